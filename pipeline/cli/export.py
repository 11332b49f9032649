"""The ``export`` command: a bundle's network as a standalone SavedModel, ONNX or LiteRT artifact
(a transducer's three networks as three), with the bundle's feature settings, CMVN and symbols
beside it (:mod:`lstmrec.inference.export`).
"""

from __future__ import annotations

from pathlib import Path

from lstmrec.inference.export import artifact_size, check_request, export_bundle
from lstmrec.inference.exported import FORMATS, SIDE_FILES


def cmd_export(args) -> int:
    check_request(args.model, args.format, args.out)  # refusals before Keras is imported
    log = None if args.quiet else print
    record = export_bundle(args.model, args.format, args.out, log=log)
    out = Path(args.out)
    size = artifact_size(out) / 1e6
    check = record["check"]
    if record["kind"] == "transducer":
        _print_transducer(args.format, out, record, size)
        return 0
    print(
        f"{args.format}: {out / record['artifact']} ({size:.1f} MB); logits match the model's "
        f"within {check['max_abs_diff']:.1g} on utterances of {check['lengths']} frames"
    )
    if record["inputs"][0]["shape"][0] == 1:
        print(f"{args.format}: takes one utterance per call (batch 1), any number of frames")
    print(f"{args.format}: beside it export.json, {', '.join(SIDE_FILES)}")
    return 0


def _print_transducer(fmt: str, out: Path, record: dict, size: float) -> None:
    nets, check = record["artifacts"], record["check"]
    files = ", ".join(net["file"] for net in nets.values())
    print(
        f"{fmt}: {out} holds the transducer's encoder, prediction and joint networks: {files} "
        f"({size:.1f} MB); they match the model's within {check['max_abs_diff']:.1g} "
        f"(encoder on utterances of {check['encoder']['lengths']} frames)"
    )
    if nets["encoder"]["inputs"][0]["shape"][0] == 1:
        print(f"{fmt}: the encoder takes one utterance per call (batch 1), any number of frames")
    print(f"{fmt}: beside them export.json, {', '.join(SIDE_FILES)}")


def add_export_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write a model's network as a standalone SavedModel, ONNX or LiteRT artifact",
        description="Write the network of a model bundle as an artifact that runs without "
        "lstmrec (TensorFlow SavedModel, ONNX, LiteRT; a transducer's encoder, prediction and "
        "joint networks as three artifacts), with the bundle's features.json, "
        "cmvn.npz and symbols.txt beside it. ONNX and LiteRT need pip install "
        "'lstmrec[export]'.",
    )
    p.add_argument(
        "model",
        help="model bundle folder (e.g. runs/x/model) or shipped model name (lstmrec models)",
    )
    p.add_argument(
        "--format",
        required=True,
        metavar="FORMAT",
        help=f"artifact format: {', '.join(FORMATS)}",
    )
    p.add_argument(
        "--out",
        required=True,
        help="new folder for the artifact (an existing one must be empty: nothing is overwritten)",
    )
    p.set_defaults(func=cmd_export)
