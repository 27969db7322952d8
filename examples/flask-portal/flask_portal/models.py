"""The portal's own tables: its customers, their transfers and trusted payees. securebox
keeps its own (credentials, sessions, audit) in its store; the two meet at the principal,
the client identifier and user number the customer logs in with."""

from __future__ import annotations

from datetime import datetime

from securebox_auth import Principal
from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

__all__ = ["Base", "Customer", "Payee", "Transfer", "customer_of"]


class Base(DeclarativeBase):
    pass


class Customer(Base):
    """A user of a business customer, as the bank's portal has always stored it."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("client_id", "user_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(16))
    user_number: Mapped[str] = mapped_column(String(8))
    display_name: Mapped[str] = mapped_column(String(120))
    #: The CAP card the bank issued to this user (bound in securebox by the back office).
    cap_card_id: Mapped[str | None] = mapped_column(String(64), default=None)
    transfers: Mapped[list[Transfer]] = relationship(back_populates="customer")
    payees: Mapped[list[Payee]] = relationship(back_populates="customer")

    @property
    def principal(self) -> Principal:
        return Principal.parse(self.client_id, self.user_number)


class Transfer(Base):
    """A transfer order the portal recorded once securebox consumed its grant."""

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    payee: Mapped[str] = mapped_column(String(64))
    ordered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    customer: Mapped[Customer] = relationship(back_populates="transfers")


class Payee(Base):
    """A trusted payee the customer added once securebox consumed its grant."""

    __tablename__ = "payees"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    payee: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    customer: Mapped[Customer] = relationship(back_populates="payees")


def customer_of(db: Session, principal: Principal) -> Customer | None:
    """The portal's row for ``principal`` (``None``: securebox knows a user the portal does
    not, or the identifier is unknown to both)."""
    query = select(Customer).where(
        Customer.client_id == principal.client_id.value,
        Customer.user_number == principal.user_number.value,
    )
    return db.scalars(query).one_or_none()
