"""Bangla MedER engine: plain Python, no Qt and no torch.

Text splitting, entity spans, file formats, the subword tokenizer, CRF
decoding, model folders and the INT8 runtime live here, shared by the desktop
app (`app/`) and the trainer (`trainer/`).
"""
