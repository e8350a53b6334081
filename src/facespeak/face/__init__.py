"""Face analysis: read a portrait, detect faces, mesh, head pose, alignment, apparent gender/age.

Modules (import them directly; this package imports nothing heavy on its own):
``image_io`` (load_image), ``analysis`` (Face, analyse_faces, choose_face, load_portrait),
``pose`` (head_pose), ``align`` (align_face, crop_landmarks), ``gender`` (estimate_gender; its views
of the face for the networks in ``gender_views``).
Identity features live in ``identity*`` modules. See docs/face_analysis.md.
"""
