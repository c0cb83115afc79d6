"""The floor for bench/intake.py: a bare FastAPI app that inserts one row per request into the same database,
with the same engine settings as CivicLink (SQLite WAL + BEGIN IMMEDIATE, or PostgreSQL), and nothing else:
no auth, no validation beyond the body model, no audit, no clocks."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, insert

from civiclink.db import begin_write, create_db_engine, make_session_factory

metadata = MetaData()
floor_order = Table(
    "floor_order",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(200)),
    Column("content", Text),
    Column("address", String(300)),
    Column("created_at", DateTime(timezone=True)),
)


class FloorIn(BaseModel):
    title: str
    content: str
    address: str | None = None


def create_floor_app(url: str) -> FastAPI:
    engine = create_db_engine(url)
    metadata.create_all(engine)
    sessions = make_session_factory(engine)
    app = FastAPI()

    @app.post("/orders", status_code=201)
    def create(order: FloorIn) -> dict:
        with sessions() as session:
            begin_write(session)
            new_id = session.execute(
                insert(floor_order).values(title=order.title, content=order.content, address=order.address,
                                           created_at=datetime.now(UTC)).returning(floor_order.c.id)
            ).scalar_one()
            session.commit()
        return {"id": new_id}

    return app


app = create_floor_app(os.environ["FLOOR_DATABASE_URL"]) if "FLOOR_DATABASE_URL" in os.environ else None
