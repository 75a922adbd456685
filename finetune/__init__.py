"""LoRA fine-tuning that produces the adapters the app compares (to come: see the fine-tuning issue)."""
