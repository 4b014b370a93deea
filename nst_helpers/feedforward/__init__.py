"""Real-time style transfer (Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses for Real-Time Style
Transfer and Super-Resolution"): a feed-forward network trained once per painting with the same
content and style losses as the optimisation, after which a picture is one pass.

    net.py        the image transformation network (residual blocks, resize-then-convolve, IN)
    data.py       the photo set: a folder (or the bundled photos), random crops, flips and scales
    train.py      the training loop (losses, Adam, progress, resumable); folder.py: its run folder
    stylize.py    model files, stylize(image), ONNX export and onnxruntime inference

A capability over the core: it imports core/, backbones/ and runs/, and the core never imports it.
"""
