# Two CPU processes on the synthetic scene (gloo instead of nccl): the multi-GPU command, tiny.
torchrun --standalone --nproc-per-node 2 -m vadkit train --out runs/ddp-cpu \
  --set train.device=cpu --set train.batch_size=4 --epochs 1 \
  --set 'data.size=[32,32]' --set data.stride=8 --set 'model.params.channels=[4,4,8,8]'
head -n 1 runs/ddp-cpu/metrics.jsonl   # {"event": "world", ..., "world_size": 2, "global_batch": 8, ...}
