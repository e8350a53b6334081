"""`facespeak faces`: text and JSON output on real photos; errors as one line + exit code."""

from __future__ import annotations

import json

from face_photos import astronaut, encode, group, no_face
from facespeak.cli.main import main


def test_faces_json_lists_every_face(tmp_path, capsys):
    path = tmp_path / "group.png"
    path.write_bytes(encode(group((0.6, 1.0, 0.8))))
    assert main(["faces", "--image", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["default_index"] == 0 and len(out["faces"]) == 3
    sizes = [f["size"][0] * f["size"][1] for f in out["faces"]]
    assert sizes == sorted(sizes, reverse=True)
    f0 = out["faces"][0]
    assert f0["default"] and f0["gender"] == "female" and 0 <= f0["p_female"] <= 1
    assert set(f0) >= {"index", "box", "size", "score", "yaw", "pitch", "roll", "age", "usable", "animatable"}
    assert all(f["animatable"] for f in out["faces"])


def test_faces_text_output(tmp_path, capsys):
    path = tmp_path / "a.jpg"
    path.write_bytes(encode(astronaut(), "JPEG"))
    assert main(["faces", "--image", str(path), "--no-gender"]) == 0
    text = capsys.readouterr().out
    assert "512x512 px, 1 face" in text and "#0" in text and "[default, can animate]" in text and "yaw" in text


def test_faces_errors_are_one_line(tmp_path, capsys):
    assert main(["faces", "--image", str(tmp_path / "missing.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: image file not found") and "\n" not in err
    path = tmp_path / "coffee.png"
    path.write_bytes(encode(no_face()))
    assert main(["faces", "--image", str(path)]) == 3  # NoFaceError exit code
    assert "no face found" in capsys.readouterr().err
