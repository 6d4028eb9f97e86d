from voicedesk.cli import entry

entry()
