"""voicedesk: a desktop voice assistant with human-speed turn taking."""

import os as _os

__version__ = "0.1.0"

# onnxruntime (Silero VAD, Smart Turn, Piper) reports to Microsoft from Linux and macOS too
# since 1.32: at its first session it wrote a lasting device id and a queue of events under
# ~/.cache/Microsoft and sent them to mobile.events.data.microsoft.com, on every run, with
# nothing said. This variable, set before its first session (here: before any of our code
# can load it), turns all of that off; a value the person set is left as it is.
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
