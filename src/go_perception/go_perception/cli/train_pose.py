"""``./gostore train pose``: train the top-down pose network on simulator renders, export ONNX.

    ./gostore pose-dataset --store small --out out/pose_train --frames 3000 --seed 1
    ./gostore pose-dataset --store small --out out/pose_val --frames 300 --seed 2
    ./gostore train pose --dataset out/pose_train --val out/pose_val --out out/pose_sim.onnx \\
        --epochs 9 --seed 0

Shows a tqdm progress bar, prints PCK@0.1 of the exported model on the held-out people (``--val``,
or a seeded 10 % of the dataset's images) and stores the recipe and that figure in the ONNX
metadata, with and without flip test. Same data, options and seed give the same network. The
shipped sim network (src/go_perception/models/pose_sim.onnx) was made this way on a GPU
(tools/gpu/train_models.sh). Use another model with
``perception_node --ros-args -p backend:=sim -p pose_model:=out/pose_sim.onnx`` or
``./gostore perceive ... --backend sim --pose-model out/pose_sim.onnx``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

import onnx
from tqdm import tqdm

from go_perception.core.onnx_io import open_session
from go_perception.core.pose import TopDownPose
from go_perception.core.pose_eval import WRISTS
from go_perception.core.pose_training import (
    IMAGE_ID_STRIDE,
    PoseTrainConfig,
    evaluate_pck,
    export_onnx,
    load_people,
    pck_figures,
    predict,
    recipe,
    split_by_image,
    steps_total,
    train,
)


def _parser() -> argparse.ArgumentParser:
    d = PoseTrainConfig()
    p = argparse.ArgumentParser(
        prog="gostore train pose",
        description="Train the COCO-17 heatmap pose network on ./gostore pose-dataset renders.",
    )
    p.add_argument(
        "--dataset",
        type=Path,
        nargs="+",
        required=True,
        help="pose-dataset folder(s) for training (several: their people are pooled)",
    )
    p.add_argument("--val", type=Path, help="held-out pose-dataset folder (default: 10 %% split)")
    p.add_argument("--out", type=Path, required=True, help="ONNX model to write")
    p.add_argument("--epochs", type=int, default=d.epochs, help="passes over the data")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (reproducible)")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (one-cycle)")
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    p.add_argument(
        "--workers",
        type=int,
        default=d.workers,
        help="processes making the augmented batches (0: this one; > 0 seeds each batch on its own,"
        " the same stream for any count)",
    )
    p.add_argument("--width", type=int, default=d.width, help="channels of the first stage")
    p.add_argument(
        "--input",
        default=f"{d.input_height}x{d.input_width}",
        help="network input HEIGHTxWIDTH [px], each a multiple of 16 (default %(default)s)",
    )
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    p.add_argument("--report", type=Path, help="also write the figures as JSON here")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns a process exit status."""
    args = _parser().parse_args(argv)
    try:
        in_h, in_w = (int(v) for v in args.input.lower().split("x"))
    except ValueError:
        in_h = in_w = 0
    if in_h < 16 or in_w < 16 or in_h % 16 or in_w % 16:
        print(f"error: --input {args.input}: need HEIGHTxWIDTH, multiples of 16", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if (
        args.epochs < 1
        or args.batch_size < 2
        or args.threads < 1
        or args.workers < 0
        or not args.lr > 0
        or args.width < 4
    ):
        print(
            "error: need --epochs >= 1, --batch-size >= 2, --threads >= 1, --workers >= 0,"
            " --lr > 0, --width >= 4",
            file=sys.stderr,
        )
        return 2
    config = PoseTrainConfig(
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        lr=args.lr,
        threads=args.threads,
        workers=args.workers,
        width=args.width,
        input_height=in_h,
        input_width=in_w,
    )
    try:
        people = [
            sample
            for k, folder in enumerate(args.dataset)
            for sample in load_people(folder, config, image_id_offset=k * IMAGE_ID_STRIDE)
        ]
        if args.val is not None:
            train_set, held_out = people, load_people(args.val, config)
        else:
            train_set, held_out = split_by_image(people, config.val_fraction, config.seed)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if len(train_set) < config.batch_size:
        print(
            f"error: {len(train_set)} training people, need >= {config.batch_size}", file=sys.stderr
        )
        return 2
    print(f"training on {len(train_set)} people, {len(held_out)} held out", file=sys.stderr)
    with tqdm(total=steps_total(len(train_set), config), desc="train pose", unit="step") as bar:

        def on_step(step: int, loss: float) -> None:
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{loss * 1000:.3f}e-3")

        model = train(train_set, config, on_step, device=args.device)
    command = shlex.join(
        ["./gostore", "train", "pose", *(argv if argv is not None else sys.argv[1:])]
    )
    export_onnx(
        model,
        args.out,
        {"go.recipe": recipe(config), "go.command": command},
        input_size=(in_h, in_w),
    )
    pose = TopDownPose(open_session(args.out, 1), crop_padding=config.crop_padding)
    if not held_out:
        print("warning: no held-out people: PCK not measured (use --val)", file=sys.stderr)
    figures = evaluate_pck(pose, held_out)
    pose.flip_test = True  # what the sim backend runs by default
    predicted = predict(pose, held_out)
    flipped = pck_figures(predicted, held_out)
    # Breakdowns with flip test: the wrists (what attribution reads) and each camera (a camera
    # the network never saw shows up here, not in the overall figure).
    wrists = pck_figures(predicted, held_out, keypoints=list(WRISTS))
    by_camera = {}
    for camera in sorted({p.camera for p in held_out} - {""}):
        rows = [i for i, p in enumerate(held_out) if p.camera == camera]
        by_camera[camera] = pck_figures(predicted[rows], [held_out[i] for i in rows])
    proto = onnx.load(str(args.out))
    for key, value in (
        ("go.pck_0.1", figures),
        ("go.pck_0.1_flip", flipped),
        ("go.pck_0.1_flip_wrists", wrists),
        ("go.pck_0.1_flip_by_camera", by_camera),
    ):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save(proto, str(args.out))
    print(
        f"PCK@0.1 on {int(figures['people'])} held-out people: {figures['labelled']:.3f} "
        f"(visible keypoints only: {figures['visible']:.3f}); with flip test "
        f"{flipped['labelled']:.3f} ({flipped['visible']:.3f}); wrists with flip test "
        f"{wrists['labelled']:.3f}; model: {args.out}"
    )
    for camera, pck_camera in by_camera.items():
        print(
            f"  {camera}: {pck_camera['labelled']:.3f} with flip test on "
            f"{int(pck_camera['people'])} people"
        )
    if args.report:
        report = {
            "pck_0.1": figures,
            "pck_0.1_flip": flipped,
            "pck_0.1_flip_wrists": wrists,
            "pck_0.1_flip_by_camera": by_camera,
            "config": json.loads(recipe(config)),
        }
        args.report.write_text(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
