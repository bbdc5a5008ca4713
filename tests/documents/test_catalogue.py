"""The catalogue of document kinds: one module per kind under practitioner/documents/kinds/, one template each.

A new kind is one module and one template: the registry finds the module itself, and these
tests fail when a module, a template or a DocumentKind code is missing or declared twice.
"""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest

from practitioner.documents import kinds
from practitioner.documents.kinds import KINDS, DocumentType, NotReady, SourceNotFound, get
from practitioner.documents.models import DocumentKind
from practitioner.extensions import db
from practitioner.paths import REPORT_TEMPLATES_DIR

KINDS_DIR = Path(kinds.__file__).parent
DOCUMENTS_DIR = KINDS_DIR.parent


def test_the_registry_lists_exactly_the_modules_in_the_kinds_folder():
    on_disk = sorted(path.stem for path in KINDS_DIR.glob("*.py") if not path.stem.startswith("_"))
    assert on_disk == sorted(kinds.module_names())
    assert on_disk == sorted(["treatment_guide", "aftercare", "consent_form", "consultation_summary", "session_record", "patient_export", "progress_sheet",
                              "intake_record"])
    declared = {name: __import__(f"practitioner.documents.kinds.{name}", fromlist=["TYPE"]).TYPE for name in on_disk}
    assert all(isinstance(t, DocumentType) for t in declared.values())
    # One module per code: each module is named after the kind it declares, and the registry holds that very object.
    for name, declared_type in declared.items():
        assert declared_type.kind.value == name.replace("_", "-")
    assert sorted(KINDS) == sorted(DocumentKind) and all(KINDS[t.kind] is t for t in declared.values())
    assert list(KINDS) == list(DocumentKind)


def test_every_kind_declares_everything_once_and_its_template_exists():
    prefixes = [t.number_prefix for t in KINDS.values()]
    assert len(set(prefixes)) == len(prefixes) and all(p.isalpha() and p.isupper() for p in prefixes)
    labels = [t.label for t in KINDS.values()]
    assert len(set(labels)) == len(labels)
    for kind_type in KINDS.values():
        assert (REPORT_TEMPLATES_DIR / kind_type.template).is_file(), f"{kind_type.kind}: no template {kind_type.template}"
        assert hasattr(kind_type.source, "public_id") and kind_type.source_name
        assert callable(kind_type.build) and callable(kind_type.missing)
    assert {k.value for k, t in KINDS.items() if t.for_patient} == {"treatment-guide", "aftercare", "consent-form", "patient-export", "progress-sheet",
                                                                    "intake-record"}


def test_the_kind_enum_reads_its_words_from_the_catalogue():
    assert DocumentKind.AFTERCARE.label == "Aftercare instructions" == get("aftercare").label
    assert DocumentKind.SESSION_RECORD.issue_label == "Save session record to the file"
    assert DocumentKind.CONSENT_FORM.issue_label == "Issue consent form to the patient"
    assert DocumentKind.CONSULTATION_SUMMARY.issued_phrase == "saved to the clinic file"
    assert DocumentKind.PATIENT_EXPORT.issued_phrase == "given to the patient"
    with pytest.raises(ValueError):
        get("no-such-kind")


def _assigned_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def test_no_table_of_kinds_is_left_outside_the_catalogue():
    """The scattered tables this replaced (BUILDERS, NUMBER_PREFIX, SPECS) are not defined again in documents/."""
    for path in DOCUMENTS_DIR.rglob("*.py"):
        found = _assigned_names(path) & {"BUILDERS", "NUMBER_PREFIX", "SPECS", "PREFIXES", "LABELS"}
        assert not found, f"{path.relative_to(DOCUMENTS_DIR)} defines {found}: declare it on the kind's DocumentType instead"


def test_unknown_records_and_records_not_ready(app, practitioner):
    from tests.conftest import make_patient
    from tests.factories import make_consultation, make_plan
    from practitioner.treatments.models import TreatmentSession

    for kind_type in KINDS.values():
        with pytest.raises(SourceNotFound, match=f"No {kind_type.source_name} has this id"):
            kind_type.spec(db.session, uuid.uuid4())
    patient = make_patient(actor=practitioner)
    plan = make_plan(make_consultation(patient, practitioner))
    draft = TreatmentSession(patient_id=patient.id, plan_id=plan.id, sequence=1, practitioner_id=practitioner.id,
                             session_date=plan.first_session_on)
    db.session.add(draft)
    db.session.commit()
    assert get(DocumentKind.AFTERCARE).missing(draft) == "Aftercare is issued from a signed session: sign the session record first."
    with pytest.raises(NotReady, match="sign the session record first"):
        get(DocumentKind.AFTERCARE).spec(db.session, draft.public_id)
    assert get(DocumentKind.SESSION_RECORD).missing(draft) is None
    assert get(DocumentKind.SESSION_RECORD).spec(db.session, draft.public_id).title == "Session record (draft)"


NEW_KIND = '''"""A referral letter: for the patient's GP (a kind added by this test only)."""

from practitioner.documents.kinds._common import slug
from practitioner.documents.kinds._types import DocumentSpec, DocumentType
from practitioner.patients.models import Patient


def build(session, patient, issued_on=None):
    """The letter's values."""
    return DocumentSpec(TYPE.kind, str(patient.public_id), patient.id, TYPE.template, TYPE.label, {"patient": {"name": patient.full_name}},
                        "en-referral-1", f"referral-{slug(patient.full_name)}")


TYPE = DocumentType(code="referral-letter", label="Referral letter", number_prefix="RL", source=Patient, source_name="patient",
                    template="referral_letter.html", for_patient=False, build=build)
'''

CHECK = """
from practitioner.documents import kinds
from practitioner.documents.models import DocumentKind, KindColumn
from practitioner.documents.pdf.html import render_html
from practitioner.paths import REPORT_TEMPLATES_DIR
letter = kinds.get("referral-letter")
assert "referral_letter" in kinds.module_names() and len(kinds.KINDS) == 9
assert DocumentKind.REFERRAL_LETTER.label == "Referral letter" and DocumentKind.REFERRAL_LETTER.issue_label == "Save referral letter to the file"
assert KindColumn().process_bind_param(DocumentKind.REFERRAL_LETTER, None) == "referral-letter"
assert KindColumn().process_result_value("referral-letter", None) is DocumentKind.REFERRAL_LETTER
assert (REPORT_TEMPLATES_DIR / letter.template).is_file()
print(render_html(letter.template, {"patient": {"name": "Ada"}}, title="Referral letter"))
"""


def test_a_new_kind_is_one_module_and_one_template(tmp_path):
    """In a copy of the package: one module in kinds/ and one template, and the kind exists everywhere (registry, codes, column)."""
    import shutil
    import subprocess
    import sys

    root = Path(kinds.__file__).parents[3]
    shutil.copytree(root / "practitioner", tmp_path / "practitioner", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "reports" / "templates", tmp_path / "reports" / "templates")
    (tmp_path / "practitioner" / "documents" / "kinds" / "referral_letter.py").write_text(NEW_KIND)
    (tmp_path / "reports" / "templates" / "referral_letter.html").write_text("<p>Referral for {{ patient.name }}</p>\n")
    run = subprocess.run([sys.executable, "-c", CHECK], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert "<p>Referral for Ada</p>" in run.stdout
