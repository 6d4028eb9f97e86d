"""The tools the assistant can call: MCP servers, and the built-in documents server."""

# The key of an MCP request's ``_meta`` by which the tool manager tells the documents server
# which answer of the language model a call is part of (the same for every call of one).
ANSWER_META = "voicedesk/answer"
# ...and which of the person's turns it answers: a change the documents server asked the
# person about is made only on a confirmation that comes in a later turn, once they spoke.
TURN_META = "voicedesk/turn"
