"""The tools the assistant can call: MCP servers, and the built-in documents server."""

from __future__ import annotations

import json
import re

# The key of an MCP request's ``_meta`` by which the tool manager tells the documents server
# which answer of the language model a call is part of (the same for every call of one).
ANSWER_META = "voicedesk/answer"
# ...and which of the person's turns it answers: a change the documents server asked the
# person about is made only on a confirmation that comes in a later turn, once they spoke.
TURN_META = "voicedesk/turn"


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")  # a TOML key that needs no quotes


def server_setting(name: str) -> str:
    """Where tool server ``name`` is in the config, as TOML writes it: a name with a dot
    or a space is quoted, else `tools.mcpServers.my.repo` named a table the config does
    not have. Kept free of the MCP SDK: `doctor` names servers without loading it."""
    key = name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)
    return f"tools.mcpServers.{key}"
