"""``shelf-models``: build, evaluate and publish the models the gateways run."""

from __future__ import annotations

from collections.abc import Sequence

from edge.cli_registry import Command, run_commands

COMMANDS: tuple[Command, ...] = (
    Command(
        "build", "models.offers.build_cli", "Train the offer model from transactions; write ONNX + manifest."
    ),
    Command(
        "train-picks",
        "models.picks.train_cli",
        "Train the camera picks model on simulator frames (numpy, fixed seed); write ONNX + manifest.",
    ),
    Command(
        "convert-online-retail",
        "models.offers.convert_cli",
        "Turn UCI Online Retail (online_retail.csv.gz) into transactions CSV (TX.csv).",
    ),
    Command(
        "evaluate",
        "models.offers.evaluate_cli",
        "Score the offer method against baselines on a time-based split (Recall/NDCG/HR@10).",
    ),
    Command(
        "catalogue",
        "models.offers.catalogue_cli",
        "Write a store catalogue CSV (names, prices, margins, stock) from Online Retail products.",
    ),
    Command(
        "profiles",
        "models.offers.profiles_cli",
        "Compute shopper profiles JSON (for gateways) from purchase history with an offer model.",
    ),
    Command(
        "publish", "models.release", "Validate, sign (Ed25519) and upload a model release to the backend."
    ),
    Command(
        "synth-transactions",
        "models.jobs.synth_cli",
        "Write a synthetic chain's transactions (partitioned Parquet) fitted to ../shared/data.",
    ),
    Command(
        "chain-profiles",
        "models.jobs.profiles_job",
        "Shopper profiles for every customer on Spark, written per store (offline + online history).",
    ),
    Command(
        "repurchase",
        "models.jobs.repurchase_job",
        "Per customer and product: P(buy again within 7 days) and the expected date (Spark), scored.",
    ),
    Command(
        "customer-value",
        "models.jobs.value_job",
        "Expected spend per customer over 6 and 12 months (BG/NBD x Gamma-Gamma on Spark), scored.",
    ),
    Command(
        "segments",
        "models.jobs.segments_job",
        "Customer segments (RFM, discount sensitivity, demographics; stable ids, in words) on Spark, scored.",
    ),
    Command(
        "layout",
        "models.jobs.layout_job",
        "Product pairs with high lift and the strong pairs a planogram places far apart (Spark report).",
    ),
    Command("keygen", "models.release_keygen", "Create the Ed25519 key pair that signs model releases."),
    Command(
        "policy-value",
        "models.experiments.policy_value_cli",
        "Off-policy value of a target policy from a logged bandit CSV (IPS, SNIPS, DR with intervals).",
    ),
    Command(
        "uplift",
        "models.experiments.uplift_cli",
        "Uplift report (HTML + JSON) per campaign, variant, store and week against holdout.",
    ),
    Command(
        "gateway-export",
        "models.experiments.gateway_export_cli",
        "One gateway's event store as the export uplift and simulate-policy read (decisions with baskets).",
    ),
    Command(
        "simulate-policy",
        "models.experiments.simulate_policy_cli",
        "Replay the offer engine with new rules on logged decisions; estimate its value (IPS/SNIPS/DR).",
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    return run_commands("shelf-models", "Build, evaluate and publish smart-shelf models.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
