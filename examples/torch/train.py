#!/usr/bin/python3
"""A PyTorch training script of the kind a user writes, put on the asyncps
parameter server with three lines (marked "asyncps:"). Start it with the
launcher, which runs a local cluster and N copies of this script:

    PYTHONPATH=build/python /usr/bin/python3 -m asyncps.run --workers 3 --shards 2 \\
        examples/torch/train.py --model seed --epochs 1
    PYTHONPATH=build/python /usr/bin/python3 -m asyncps.run --workers 3 --shards 2 --algorithm downpour \\
        examples/torch/train.py --model resnet --epochs 1

--model seed: the seed CNN (Dist-Keras' MNIST model); --model resnet: a small
residual CNN with BatchNorm, whose running statistics travel with the weights.
Each worker trains its share of Fashion-MNIST; worker 0 then loads the PS's
model (asyncps.torch.pull_model) and prints its test accuracy beside its own
model's.
"""
import argparse

import torch
import torch.nn.functional as F

import asyncps.mnist
import asyncps.torch


class Block(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(channels)
        self.conv2 = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(channels)

    def forward(self, x):
        return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class SmallResNet(torch.nn.Module):
    def __init__(self, channels=16, classes=10):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(1, channels, 3, padding=1, bias=False),
                                        torch.nn.BatchNorm2d(channels), torch.nn.ReLU())
        self.blocks = torch.nn.Sequential(Block(channels), torch.nn.MaxPool2d(2), Block(channels))
        self.head = torch.nn.Linear(channels, classes)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)).mean(dim=(2, 3)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=("seed", "resnet"), default="seed")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--train-limit", type=int, default=0, help="use only the first N training rows (0: all)")
    ap.add_argument("--test-limit", type=int, default=2000)
    ap.add_argument("--buffers", choices=("travel", "local"), default="travel",
                    help="BatchNorm's running statistics: through the PS with the weights, or each worker's own")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(1)  # every worker builds the same initial model; the first init wins anyway

    x, y = asyncps.mnist.load(limit=a.train_limit)
    train = asyncps.torch.partition(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)))
    loader = torch.utils.data.DataLoader(train, batch_size=a.batch_size, shuffle=True)
    model = asyncps.torch.seed_cnn() if a.model == "seed" else SmallResNet()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)

    opt = asyncps.torch.DistributedOptimizer(opt, model, buffers=a.buffers)  # asyncps: servers, rule from asyncps.run
    opt.init_or_pull()                                    # asyncps: start from the PS's weights
    model.train()
    for _ in range(a.epochs):
        for images, labels in loader:
            opt.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            opt.step()
    opt.finish()                                          # asyncps: the final commit
    print(f"worker {opt.client.options['worker_id']}: {opt.batches} batches, {opt.commits} commits")

    if opt.client.options["worker_id"] == 0:
        tx, ty = asyncps.mnist.load(split="test", limit=a.test_limit)
        ps_model = asyncps.torch.pull_model(asyncps.torch.seed_cnn() if a.model == "seed" else SmallResNet(),
                                            buffers=a.buffers)
        ps_accuracy, _ = asyncps.torch.evaluate(ps_model, tx, ty)
        own_accuracy, _ = asyncps.torch.evaluate(model, tx, ty)
        print(f"test accuracy on {len(ty)} images: the PS's model {ps_accuracy:.4f}, "
              f"this worker's own {own_accuracy:.4f}")


if __name__ == "__main__":
    main()
