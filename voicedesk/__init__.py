"""voicedesk: a desktop voice assistant with human-speed turn taking."""

__version__ = "0.1.0"
