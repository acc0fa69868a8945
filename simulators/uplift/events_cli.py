"""``shelf-sim uplift-events --out DIR``: one simulated chain written as the central export."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="export directory to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shoppers", type=int, default=1500)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument(
        "--no-effect", action="store_true", help="offers change nothing (and carry no discount)"
    )


def run(args: argparse.Namespace) -> int:
    from simulators.uplift.chain import ChainConfig, run_chain, sim_rules, write_run
    from simulators.uplift.response import NO_EFFECT, ResponseModel

    rules = sim_rules(discount=not args.no_effect)
    response = NO_EFFECT if args.no_effect else ResponseModel()
    chain = run_chain(ChainConfig(shoppers=args.shoppers, weeks=args.weeks), rules, response, args.seed)
    root = write_run(chain, args.out)
    print(
        f"simulated chain export: {root} ({chain.exposures.num_rows} exposures, {chain.picks.num_rows} picks)"
    )
    return 0
