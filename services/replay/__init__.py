"""The replay service: recording chunks into S3, their index, playback manifests and retention."""
