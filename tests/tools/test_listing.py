"""tools/listing.py: a listing mended tool by tool, whatever else the protocol version
asks of the listing itself."""

from __future__ import annotations

from voicedesk.tools.listing import mend_listing


def test_a_tool_is_judged_in_its_listing_not_alone() -> None:
    """Each tool was checked as a listing of its own, ``{"tools": [tool]}``: a version
    whose listings carry fields of their own (2026-07-28: cacheScope, resultType, ttlMs)
    found that listing wrong for every tool, and every tool of the server was left out,
    "Field required" for the reason, the good ones with the bad."""
    listing = {
        "tools": [
            {"name": "ping", "inputSchema": {}},  # mended: an object
            {"name": "batch", "inputSchema": {"type": "array"}},  # not allowed
        ],
        "cacheScope": "public",
        "resultType": "complete",
        "ttlMs": 0,
    }
    refused = mend_listing(listing, "2026-07-28")
    assert [tool["name"] for tool in listing["tools"]] == ["ping"]
    assert list(refused) == ["batch"] and refused["batch"].startswith("inputSchema.type"), refused
