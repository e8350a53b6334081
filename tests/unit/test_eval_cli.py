"""`facespeak eval tts` and `facespeak bench tts` end to end on a tiny untrained checkpoint.

Real components throughout (face analysis, identity encoder, HiFi-GAN, Whisper, Resemblyzer);
only the TTS is tiny and untrained, so the checks must come out failing for intelligibility.
Slow (~1-3 min on 2 shared cores): run with ``pytest -m slow``.
"""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from facespeak.cli.main import main
from facespeak.core.checkpoint import save_checkpoint
from facespeak.core.config import to_dict
from facespeak.core.cache import file_sha256

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from facespeak.face.identity import IdentityExtractor, bundled_identity_path

    if not bundled_identity_path().is_file():
        pytest.skip(f"bundled identity weights not present yet ({bundled_identity_path()})")
    from facespeak.face.analysis import load_portrait
    from facespeak.text import TextConfig, TextFrontend
    from facespeak.tts import FaceTTS, TTSConfig

    root = tmp_path_factory.mktemp("evalcli")
    astro = data.astronaut()
    (root / "images").mkdir()
    (root / "frames" / "clip").mkdir(parents=True)
    Image.fromarray(astro).save(root / "images" / "astro.png")
    Image.fromarray(np.ascontiguousarray(astro[:, ::-1])).save(root / "images" / "mirror.png")
    Image.fromarray(astro[0:300, 60:400]).save(root / "frames" / "clip" / "00000.jpg")
    Image.fromarray(astro[10:330, 80:380]).save(root / "frames" / "clip" / "00004.jpg")
    items = [{"path": "images/astro.png", "person": "astro", "face_box": None, "kind": "photo", "split": "heldout", "source_path": "astro.png"},
             {"path": "images/mirror.png", "person": "mirror", "face_box": None, "kind": "photo", "split": "heldout", "source_path": "mirror.png"}]
    items += [{"path": f"frames/clip/{n:05d}.jpg", "person": "astro", "face_box": None, "kind": "frame", "split": "heldout",
               "source_path": f"clip.mp4#frame={n}"} for n in (0, 4)]
    persons = {"astro": {"gender": "female", "split": "heldout"}, "mirror": {"gender": "female", "split": "heldout"}}
    (root / "manifest.json").write_text(json.dumps({"format": 1, "persons": persons, "items": items}))
    rows = [{"sentence_id": "s1", "text": "The cat sat on the mat.", "split": "eval"},
            {"sentence_id": "s2", "text": "A red boat sails home.", "split": "eval"},
            {"sentence_id": "s0", "text": "Never used for evaluation.", "split": "train"}]
    (root / "sentences.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    portrait = load_portrait(root / "images" / "astro.png")
    cond_dim = IdentityExtractor.from_bundled().extract(portrait.image, portrait.face).f_id.shape[0]
    frontend = TextFrontend(TextConfig())
    cfg = TTSConfig.tiny()
    cfg.n_mels, cfg.n_vocab, cfg.cond_dim = 80, frontend.vocab_size, int(cond_dim)
    torch.manual_seed(0)
    config = to_dict(cfg)
    config["_text_symbols"] = frontend.symbol_table_version
    save_checkpoint(root / "tiny.safetensors", FaceTTS(cfg).state_dict(), "facespeak.tts", config)
    return root


def test_eval_tts_cli_writes_results(setup, capsys):
    root = setup
    out = root / "out"
    args = ["-q", "eval", "tts", "--tts-weights", str(root / "tiny.safetensors"), "--out", str(out), "--sentences", "2",
            "--portraits", "2", "--frames", "2", "--videos", "1", "--faces", str(root), "--sentence-file",
            str(root / "sentences.jsonl"), "--steps", "2", "--strict"]
    assert main(args) == 1  # an untrained TTS must fail the checks under --strict
    res = json.loads((out / "results.json").read_text())
    assert res["checkpoint"]["sha256"] == file_sha256(root / "tiny.safetensors")
    assert res["command"].startswith("facespeak eval tts --tts-weights")
    intel = res["intelligibility"]
    assert [r["sentence_id"] for r in intel["rows"]] == ["s1", "s2"]
    assert [r["person"] for r in intel["rows"]] == ["astro", "mirror"]  # round-robin
    assert intel["words"] == 6 + 5 and intel["errors"] == sum(r["errors"] for r in intel["rows"])
    assert not res["checks"]["wer"]["pass"]
    video = res["consistency"][0]
    assert video["person"] == "astro" and len(video["frames"]) == 2
    for cond in ("f_id", "f"):
        assert np.allclose(np.diag(video[cond]["cosine_matrix"]), 1.0, atol=1e-3)
        assert -1.0 <= video[cond]["mean_pairwise_cosine"] <= 1.0
    suit = res["suitability"]
    assert suit["persons"] == ["astro", "mirror"] and np.array(suit["cosine_matrix"]).shape == (2, 2)
    assert suit["same_gender"]["pairs"] == 1 and suit["cross_gender"]["pairs"] == 0
    assert {p["gender_used"] for p in suit["portraits"]} == {"female"}
    assert len(list((out / "wavs").glob("*.wav"))) == 2 + 2 * 2
    assert "| wer |" in (out / "summary.md").read_text() and "| wer |" in capsys.readouterr().out


def test_bench_tts_cli_json(setup, capsys):
    root = setup
    args = ["-q", "bench", "tts", "--image", str(root / "images" / "astro.png"), "--seconds", "2", "--steps", "2",
            "--tts-weights", str(root / "tiny.safetensors"), "--json"]
    assert main(args) == 0
    res = json.loads(capsys.readouterr().out)
    warm, cold = res["warm"], res["cold"]
    assert warm["audio_seconds"] > 0 and warm["rtf"] > 0
    assert warm["synthesis_s"] == pytest.approx(sum(warm[f"{k}_s"] for k in ("text", "face", "acoustic", "vocoder")))
    assert warm["vocoder_s"] > 0 and warm["acoustic_s"] > 0
    assert cold["audio_seconds"] == pytest.approx(warm["audio_seconds"], rel=0.05)  # same text, same seed
    assert cold["wall_s"] > warm["synthesis_s"] and cold["peak_rss_mb"] > 100
