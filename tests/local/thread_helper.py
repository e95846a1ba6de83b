"""A stand-in step for the thread tests: sets its threads as a step does, computes in parallel, reports."""

import json
import sys

if __name__ == "__main__":
    from steps.threads import apply_thread_policy, thread_choice
    from workflows.settings import load_settings

    imported_before = "torch" in sys.modules
    apply_thread_policy(load_settings())
    import torch

    a = torch.randn(512, 512)
    (a @ a).sum()  # parallel regions: MKL's matmul and an elementwise op over 4M values
    torch.randn(4_000_000).exp_().sum()
    print(json.dumps({"choice": thread_choice(), "torch_threads": torch.get_num_threads(),
                      "torch_imported_before": imported_before}), flush=True)  # fmt: skip
