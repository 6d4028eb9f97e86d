"""Widgets of the voicedesk terminal UI; each one renders one slice of the engine's events."""
