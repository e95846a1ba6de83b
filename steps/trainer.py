"""The training loop: an MLP trained epoch by epoch on tensors already on the device, early
stopping on validation AUC, and every piece of state a checkpoint needs to resume bit-identically."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from steps.stopping import stop_requested

if TYPE_CHECKING:
    from steps.train import TrainParams

EVAL_CHUNK = 65_536


@dataclass
class BestEpoch:
    """The epoch with the best validation AUC so far, and the network's weights then (on the CPU)."""

    auc: float = -1.0
    epoch: int = 0
    state: dict[str, Any] | None = None


class Trainer:
    """The training loop with its resumable state."""

    def __init__(self, params: TrainParams, train_xy, val_xy, device) -> None:
        import torch

        from steps.network import build_mlp

        self.params, self.device = params, device
        torch.manual_seed(params.seed)
        self.x = torch.from_numpy(train_xy[0]).to(device)
        self.y = torch.from_numpy(train_xy[1]).to(device)
        self.val_x = torch.from_numpy(val_xy[0]).to(device)
        self.val_y = val_xy[1]
        self.network = build_mlp(self.x.shape[1], params.hidden_sizes, params.dropout).to(device)
        self.optimizer = torch.optim.AdamW(
            self.network.parameters(), lr=params.lr, weight_decay=params.weight_decay
        )
        self.shuffle = torch.Generator().manual_seed(params.seed)
        self.epoch = 0
        self.best = BestEpoch()
        self.stale_epochs = 0
        self.history: list[dict[str, float]] = []
        self.finished = False
        self.train_seconds = 0.0

    def state(self) -> dict[str, Any]:
        import torch

        return {
            "params": self.params.hyperparameters(),
            "epoch": self.epoch,
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "shuffle_rng": self.shuffle.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else [],
            "best": asdict(self.best),  # a plain dict in the checkpoint, as the rest of it
            "stale_epochs": self.stale_epochs,
            "history": self.history,
            "finished": self.finished,
            "train_seconds": self.train_seconds,
        }

    def restore(self, saved: dict[str, Any]) -> None:
        import torch

        self.epoch = saved["epoch"]
        self.network.load_state_dict(saved["network"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.shuffle.set_state(saved["shuffle_rng"])
        torch.set_rng_state(saved["torch_rng"])
        if saved["cuda_rng"]:
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
        self.best, self.stale_epochs = BestEpoch(**saved["best"]), saved["stale_epochs"]
        self.history, self.finished = saved["history"], saved["finished"]
        self.train_seconds = saved["train_seconds"]

    def run_epoch(self) -> dict[str, float] | None:
        """One pass over the shuffled train set; None when SIGTERM stopped it part-way."""
        import torch
        import torch.nn.functional as F

        self.network.train()
        started = time.perf_counter()
        order = torch.randperm(len(self.x), generator=self.shuffle).to(self.device)
        use_bf16 = self.device.type == "cuda"
        total = torch.zeros((), device=self.device)
        for start in range(0, len(order), self.params.batch_size):
            if stop_requested():
                return None
            index = order[start : start + self.params.batch_size]
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_bf16):
                logits = self.network(self.x[index]).squeeze(1)
            loss = F.binary_cross_entropy_with_logits(logits.float(), self.y[index])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss.detach() * len(index)
        self.train_seconds += time.perf_counter() - started
        return {"train_loss": float(total) / len(self.x), **self.validate()}

    def validate(self) -> dict[str, float]:
        import torch
        import torch.nn.functional as F
        from sklearn.metrics import roc_auc_score

        self.network.eval()
        with torch.inference_mode():
            logits = torch.cat(
                [self.network(chunk).squeeze(1).float() for chunk in self.val_x.split(EVAL_CHUNK)]
            )
        target = torch.from_numpy(self.val_y).to(self.device)
        val_loss = float(F.binary_cross_entropy_with_logits(logits, target))
        val_auc = float(roc_auc_score(self.val_y, logits.cpu().numpy()))
        return {"val_loss": val_loss, "val_auc": val_auc}

    def record(self, metrics: dict[str, float]) -> None:
        """Advance the epoch and the early-stopping state."""
        self.epoch += 1
        self.history.append(metrics)
        if metrics["val_auc"] > self.best.auc + 1e-6:
            state = {k: v.detach().cpu().clone() for k, v in self.network.state_dict().items()}
            self.best = BestEpoch(auc=metrics["val_auc"], epoch=self.epoch, state=state)
            self.stale_epochs = 0
        else:
            self.stale_epochs += 1
        self.finished = self.epoch >= self.params.epochs or self.stale_epochs >= self.params.patience
