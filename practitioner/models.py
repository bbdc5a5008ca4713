"""Every feature's models, imported together so the metadata (and so each migration) is complete."""

from practitioner import audit  # noqa: F401
from practitioner.admin import models as admin_models  # noqa: F401
from practitioner.auth import models as auth_models  # noqa: F401
from practitioner.consultations import models as consultation_models  # noqa: F401
from practitioner.intake import models as intake_models  # noqa: F401
from practitioner.plans import models as plan_models  # noqa: F401
from practitioner.consents import models as consent_models  # noqa: F401
from practitioner.patients import models as patient_models  # noqa: F401
from practitioner.treatments import models as treatment_models  # noqa: F401
from practitioner.photos import models as photo_models  # noqa: F401
from practitioner.documents import models as document_models  # noqa: F401
