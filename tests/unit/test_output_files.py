"""core.output_files: output paths checked before work starts; files written atomically through
unique, exclusively created temporary files that never follow links; nothing left on failure."""

import os
import subprocess
import sys
import textwrap
import pytest

from facespeak.core.errors import ImageError, InputError, OutputPathError
from facespeak.core.output_files import AtomicOutput, check_input_file, check_output_dir, check_output_file


def test_output_file_checks_reject_bad_paths_with_one_line(tmp_path):
    (tmp_path / "a_file.txt").write_text("keep")
    (tmp_path / "folder.wav").mkdir()
    cases = [
        (tmp_path / "folder.wav", "is a folder"),
        (tmp_path / "a_file.txt" / "out.wav", "is a file, expected a folder"),
        (tmp_path / "a_file.txt" / "deeper" / "out.wav", "is a file, expected a folder"),
        (tmp_path / ("x" * 300 + ".wav"), "at most 255 bytes"),
        (tmp_path / ("é" * 130) / "out.wav", "at most 255 bytes"),  # 260 bytes in UTF-8
        (tmp_path / "out.mp3", "expected a .wav path"),
    ]
    for path, needle in cases:
        with pytest.raises(OutputPathError, match=needle) as e:
            check_output_file(path, "--out", ".wav")
        assert "\n" not in str(e.value)
    with pytest.raises(OutputPathError, match="not a regular file"):
        check_output_file("/dev/null", "--out")
    assert (tmp_path / "a_file.txt").read_text() == "keep"


def test_output_checks_accept_good_paths_and_create_nothing(tmp_path):
    (tmp_path / "old.wav").write_text("old")
    assert check_output_file(tmp_path / "old.wav", "--out", ".WAV".lower()) == tmp_path / "old.wav"
    assert check_output_file(tmp_path / "new" / "deep" / "x.wav", "--out", ".wav")
    assert check_output_dir(tmp_path / "runs" / "eval")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.wav"]


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs sysfs (a folder nobody can create files in)")
def test_read_only_folder_is_refused_before_work():
    with pytest.raises(OutputPathError, match="not writable"):
        check_output_file("/sys/speech.wav", "--out", ".wav")
    with pytest.raises(OutputPathError, match="not writable"):
        check_output_dir("/sys/runs")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write a read-only folder")
def test_read_only_folder_by_permission(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputPathError, match="not writable"):
            check_output_file(ro / "sub" / "speech.wav", "--out", ".wav")
    finally:
        ro.chmod(0o755)


def test_input_paths_too_long_or_missing(tmp_path):
    with pytest.raises(ImageError, match="at most 255 bytes"):
        check_input_file(tmp_path / ("p" * 300 + ".png"), "image file", ImageError)
    with pytest.raises(InputError, match="text file not found"):
        check_input_file(tmp_path / "nope.txt", "text file")
    with pytest.raises(InputError, match="got a folder"):
        check_input_file(tmp_path, "text file")


def test_atomic_output_replaces_only_when_complete(tmp_path):
    out = tmp_path / "speech.wav"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with AtomicOutput(out) as dst:
            dst.file.write(b"half")
            raise RuntimeError("synthesis failed")
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speech.wav"]
    with AtomicOutput(out) as dst:
        assert dst.tmp.parent == tmp_path and dst.tmp.name.startswith(".speech.wav.")
        dst.file.write(b"new")
    assert out.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speech.wav"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_atomic_output_never_follows_a_planted_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "speech.wav"
    for name in (".speech.wav.partial", ".speech.wav.tmp", "speech.wav.tmp"):  # old fixed temp names
        (tmp_path / name).symlink_to(victim)
    with AtomicOutput(out) as a, AtomicOutput(out) as b:  # two writers of one path never share a temp file
        assert a.tmp != b.tmp and not a.tmp.is_symlink() and not b.tmp.is_symlink()
        a.file.write(b"A")
        b.file.write(b"B")
    assert victim.read_text() == "precious"
    assert out.read_bytes() == b"A"  # the outer writer committed last
    assert {p.name for p in tmp_path.iterdir()} == {"speech.wav", "victim.txt", ".speech.wav.partial",
                                                    ".speech.wav.tmp", "speech.wav.tmp"}


def test_failed_write_removes_the_folders_it_made(tmp_path):
    (tmp_path / "kept").mkdir()
    out = tmp_path / "kept" / "new" / "deeper" / "video.mp4"
    with pytest.raises(KeyboardInterrupt):
        with AtomicOutput(out) as dst:
            assert (tmp_path / "kept" / "new" / "deeper").is_dir()
            dst.file.write(b"partial")
            raise KeyboardInterrupt  # what the CLI raises on SIGINT / SIGTERM
    assert [p.name for p in tmp_path.iterdir()] == ["kept"] and not any((tmp_path / "kept").iterdir())


def test_full_disk_is_one_line_and_leaves_nothing(tmp_path):
    """A real write failure: the file-size limit (RLIMIT_FSIZE) fails writes like a full disk."""
    code = textwrap.dedent(f"""
        import resource, signal, sys
        from pathlib import Path
        from facespeak.core.errors import OutputPathError
        from facespeak.core.output_files import AtomicOutput
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        out = Path({str(tmp_path / "new" / "big.bin")!r})
        try:
            with AtomicOutput(out) as dst:
                for _ in range(10):
                    dst.file.write(b"x" * 50_000)
                    dst.file.flush()
        except OSError as e:  # raised by the writer's own code; the CLI turns it into one line
            sys.exit("write failed: " + (e.strerror or ""))
        """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "write failed: File too large" in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []
