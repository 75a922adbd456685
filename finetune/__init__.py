"""LoRA fine-tuning of the models people compare (PEFT on CPU or CUDA, Unsloth on CUDA): typed config, data
layouts, responses-only labels, named checkpoints with meta.json, GGUF LoRA and merged exports. `python -m finetune`."""
