"""Style transfer for videos without flicker (Ruder, Dosovitskiy & Brox 2016, "Artistic style transfer
for videos"): each frame starts from the previous stylised frame warped by the input's optical flow,
and a temporal loss holds it to that warped frame where the flow is reliable.

    clips.py      reading (streaming) and writing clips; synthetic.py: a tiny generated clip
    flow.py       optical flow (OpenCV), backward warping, the reliability mask
    temporal.py   the temporal loss and the warping error (the flicker measure)
    stylise.py    the frame-by-frame loop, resumable per frame; folder.py: its run folder
    per_frame.py  a clip through any picture function (a trained feed-forward network), flicker measured

A capability over the core: it imports core/ and runs/, and the core never imports it.
"""
