"""Patient intake: the patient answers the health questions on the clinic's tablet or by a one-time link (docs/intake.md)."""

from flask import Blueprint

bp = Blueprint("intake", __name__)
