"""Video: style transfer that holds still from frame to frame (Ruder, Dosovitskiy & Brox,
"Artistic style transfer for videos", GCPR 2016, arXiv 1604.08610).

    clip.py    frames in (a video file, a folder, a glob), checked before any work
    flow.py    optical flow (OpenCV's DIS) and where it can be trusted (the masks c)
    warp.py    bilinear warping on the backend's arrays
    run.py     the frames in turn: the first alone, each later one from the last, warped, held
               to it by the temporal loss (losses.temporal_loss); resumable
    encode.py  the frames out as a video, the input's sound copied
    cli.py     `minimal-nst video`
    batch.py   `minimal-nst video batch`: many clips, or many styles, on the Dask engine

    from minimal_nst.video import open_clip, stylize_video
    paths = stylize_video(open_clip("clip.mp4"), "painting.jpg", "frames/")
"""

from .clip import open_clip
from .run import VideoOptions, stylize_video

__all__ = ["open_clip", "stylize_video", "VideoOptions"]
