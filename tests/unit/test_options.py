"""Options defined once (facespeak.options): every dataclass field reaches the CLI and the REST
form with the same default, range and validation message."""

import dataclasses
import re
import tempfile
from pathlib import Path

import pytest

from facespeak.core.errors import InputError
from facespeak.options import OPTIONS, SpeechOptions, VideoOptions, build_options, options_for

ROOT = Path(__file__).resolve().parents[2]
SPEECH = {f.name for f in dataclasses.fields(SpeechOptions)}
VIDEO = {f.name for f in dataclasses.fields(VideoOptions)}
# request fields that are not options, on both sides; and the CLI's own (files on this machine)
REQUEST_FIELDS = {"face_index", "captions", "allow_profile"}
CLI_ONLY = {"image", "text", "text_file", "out", "bundle", "tts_weights", "vocoder", "progress", "tfg_weights", "help"}


def _cli_dests(command: str) -> set[str]:
    from facespeak.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {a.dest for a in sub.choices[command]._actions}


def _rest_fields() -> dict[str, set[str]]:
    pytest.importorskip("fastapi")
    from facespeak.server import ServerConfig, create_app

    schemas = create_app(ServerConfig(data_dir=tempfile.mkdtemp())).openapi()["components"]["schemas"]
    body = {"tts": "Body_tts_api_tts_post", "say": "Body_say_video_api_say_post", "jobs": "Body_submit_job_api_jobs_post"}
    return {k: set(schemas[v]["properties"]) for k, v in body.items()}


def test_every_dataclass_field_is_listed_once():
    names = [o.name for o in OPTIONS]
    assert len(names) == len(set(names))
    assert set(names) == SPEECH | VIDEO
    assert {o.name for o in options_for("tts")} == SPEECH
    assert {o.name for o in options_for("say")} == SPEECH | VIDEO
    for o in OPTIONS:
        assert o.rest or o.rest_reason, o.name  # a CLI-only option says why


def test_every_option_reaches_the_cli_and_the_rest_form():
    rest = _rest_fields()
    assert _cli_dests("tts") - CLI_ONLY - REQUEST_FIELDS == SPEECH
    assert _cli_dests("say") - CLI_ONLY - REQUEST_FIELDS == SPEECH | VIDEO - {"tfg_weights"}
    rest_only = {o.name for o in OPTIONS if not o.rest}
    assert rest_only == {"tfg_weights"}
    assert rest["tts"] - {"image", "text"} - REQUEST_FIELDS == SPEECH
    assert rest["say"] - {"image", "text"} - REQUEST_FIELDS == SPEECH | VIDEO - rest_only
    assert rest["jobs"] - {"image", "text", "kind"} - REQUEST_FIELDS == SPEECH | VIDEO - rest_only
    assert REQUEST_FIELDS - {"allow_profile"} <= _cli_dests("tts") and REQUEST_FIELDS <= _cli_dests("say")
    assert REQUEST_FIELDS <= rest["say"] and REQUEST_FIELDS <= rest["jobs"]


def test_the_page_sends_only_fields_the_api_takes():
    page = (ROOT / "src/facespeak/server/static/index.html").read_text(encoding="utf-8")
    sent = set(re.findall(r'f\.append\("(\w+)"', page))
    assert {"seed", "steps", "size"} <= sent
    assert sent <= _rest_fields()["say"] and sent - {"size", "still"} <= _rest_fields()["tts"] | {"image"}


def test_defaults_come_from_the_dataclasses():
    speech, video = build_options({}, "say")
    assert speech == SpeechOptions() and video == VideoOptions()
    for o in OPTIONS:
        assert o.default == getattr(SpeechOptions() if o.owner is SpeechOptions else VideoOptions(), o.name)
    from facespeak.cli.main import build_parser

    args = build_parser().parse_args(["say", "--image", "x.jpg", "--text", "Hi.", "--out", "a.mp4"])
    from facespeak.cli.option_flags import options_from_args

    assert options_from_args(args, "say") == (SpeechOptions(), VideoOptions())


def _instance(o, value, tmp_path):
    extra = {"tfg_weights": str(tmp_path)} if o.name == "tfg" and value == "latent" else {}
    return o.owner(**{o.name: value, **extra})


def test_listed_ranges_and_choices_match_validate(tmp_path):
    for o in OPTIONS:
        if o.low is not None:
            for ok in (o.low, o.high):
                _instance(o, o.kind(ok), tmp_path).validate()
            step = 1 if o.kind is int else 1e-6 * max(1.0, abs(o.high))
            for bad in (o.low - step, o.high + step):
                with pytest.raises(InputError):
                    _instance(o, o.kind(bad), tmp_path).validate()
        if o.choices is not None:
            for ok in o.choices:
                _instance(o, ok, tmp_path).validate()
            with pytest.raises(InputError):
                _instance(o, "nonsense", tmp_path).validate()


def _cli_error(argv, capsys) -> str:
    from facespeak.cli.main import main

    assert main(argv) != 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    return lines[0].removeprefix("error: ")


@pytest.mark.parametrize("command,flag,field,value", [
    ("tts", "--temperature", "temperature", "9"),
    ("tts", "--pause-s", "pause_s", "-1"),
    ("tts", "--gender-guidance", "gender_guidance", "2"),
    ("say", "--head-motion", "head_motion", "5"),
])
def test_cli_and_rest_give_the_same_validation_error(command, flag, field, value, tmp_path, capsys):
    """The CLI's error line and the REST form's parser (the dependency every endpoint runs;
    the real HTTP 422 is checked in tests/integration/test_server_options.py) say the same."""
    pytest.importorskip("fastapi")
    from facespeak.server.option_fields import options_form

    cli = _cli_error([command, "--image", str(ROOT / "examples" / "portrait.jpg"), "--text", "Hi.", flag, value,
                      "--out", str(tmp_path / ("a.wav" if command == "tts" else "a.mp4"))], capsys)
    kind = next(o.kind for o in options_for(command) if o.name == field)
    with pytest.raises(InputError) as e:
        options_form(command)(**{field: kind(value)})
    assert str(e.value) == cli and cli.split(":")[0] in field.replace("_", " "), cli
