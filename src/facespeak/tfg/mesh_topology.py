"""Face-mesh index groups used by the mesh motion space and renderer.

Indices are MediaPipe Face Mesh landmark numbers (478 points with ``refine_landmarks``; 468-477
are the irises). "right"/"left" are the subject's (the subject's right eye is on the image's
left in a frontal photo). Lists run image-left to image-right, lid lists from the outer to the
inner corner of each eye. The groups follow MediaPipe's published contour topology
(``FACEMESH_LIPS``, ``FACEMESH_*_EYE``, ``FACEMESH_*_EYEBROW``, ``FACEMESH_FACE_OVAL``).
"""

from __future__ import annotations

__all__ = [
    "N_MESH", "N_MESH_NO_IRIS", "LIP_UPPER_INNER", "LIP_LOWER_INNER", "LIP_UPPER_OUTER", "LIP_LOWER_OUTER",
    "MOUTH_CORNERS_INNER", "MOUTH_CORNERS_OUTER", "MOUTH_COMMISSURES", "RIGHT_EYE_UPPER", "RIGHT_EYE_LOWER", "RIGHT_EYE_CORNERS",
    "LEFT_EYE_UPPER", "LEFT_EYE_LOWER", "LEFT_EYE_CORNERS", "RIGHT_BROW", "LEFT_BROW", "FACE_OVAL",
    "RIGHT_IRIS", "LEFT_IRIS", "INNER_LIP_PAIRS",
]

N_MESH = 478
N_MESH_NO_IRIS = 468

# Lips. Inner contour: corners 78 (image-left) and 308; the seam between upper and lower lip.
MOUTH_CORNERS_INNER = (78, 308)
MOUTH_CORNERS_OUTER = (61, 291)
#: Where the lip rows between the outer and inner contours end, one per row and side (image-left
#: 76, 62; image-right 306, 292): the commissure, shared by the upper and the lower lip like the
#: corners themselves.
MOUTH_COMMISSURES = (76, 62, 306, 292)
LIP_UPPER_INNER = (191, 80, 81, 82, 13, 312, 311, 310, 415)
LIP_LOWER_INNER = (95, 88, 178, 87, 14, 317, 402, 318, 324)
LIP_UPPER_OUTER = (185, 40, 39, 37, 0, 267, 269, 270, 409)
LIP_LOWER_OUTER = (146, 91, 181, 84, 17, 314, 405, 321, 375)
#: (upper, lower) inner-lip points facing each other across the mouth opening.
INNER_LIP_PAIRS = tuple(zip(LIP_UPPER_INNER, LIP_LOWER_INNER))

# Eyes: lids from outer to inner corner (right eye: 33 outer, 133 inner; left: 263, 362).
RIGHT_EYE_CORNERS = (33, 133)
RIGHT_EYE_UPPER = (246, 161, 160, 159, 158, 157, 173)
RIGHT_EYE_LOWER = (7, 163, 144, 145, 153, 154, 155)
LEFT_EYE_CORNERS = (263, 362)
LEFT_EYE_UPPER = (466, 388, 387, 386, 385, 384, 398)
LEFT_EYE_LOWER = (249, 390, 373, 374, 380, 381, 382)
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)

RIGHT_BROW = (46, 52, 53, 55, 63, 65, 66, 70, 105, 107)
LEFT_BROW = (276, 282, 283, 285, 293, 295, 296, 300, 334, 336)

#: Face silhouette, clockwise from the forehead top (10) in a frontal image.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
