"""Build the walking-graph files in a child process: ``python -m src.facilities_nearby.build``.

The build of a city-sized graph briefly needs several times the memory of the finished,
memory-mapped one (rows read from PostgreSQL, sort buffers, snapping temporaries). Doing it
in a short-lived child keeps every API worker at the size of what it serves.

Arguments: DSN, graph root directory, snap radius (m). Prints the built directory.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncpg

from src.facilities_nearby import repository
from src.facilities_nearby.graph import GRAPH_FORMAT, Graph, build_graph, save_graph


def graph_dir_name(key: str) -> str:
    """One directory per data version and file layout (a new layout never reads old files)."""
    return f"graph-{key}-v{GRAPH_FORMAT}"


async def _read(dsn: str) -> repository.NetworkRows:
    conn = await asyncpg.connect(dsn)
    try:
        return await repository.read_network(conn)
    finally:
        await conn.close()


def graph_of(rows: repository.NetworkRows, snap_max_m: float) -> Graph:
    """The in-memory graph of the rows read from the database."""
    graph = build_graph(
        rows.key,
        rows.node_ids,
        rows.node_lat,
        rows.node_lng,
        rows.edge_u,
        rows.edge_v,
        rows.edge_len,
        rows.facilities,
        [c["code"] for c in rows.categories],
        snap_max_m,
    )
    graph.meta["category_info"] = rows.categories
    return graph


def build_into(dsn: str, root: Path, snap_max_m: float) -> Path:
    rows = asyncio.run(_read(dsn))
    directory = root / graph_dir_name(rows.key)
    if directory.exists():
        return directory
    graph = graph_of(rows, snap_max_m)
    root.mkdir(parents=True, exist_ok=True)
    save_graph(graph, directory)
    return directory


def main(argv: list[str]) -> int:
    dsn, root, snap = argv
    print(build_into(dsn, Path(root), float(snap)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
