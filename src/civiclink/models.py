"""Import every domain's tables so that ``Base.metadata`` is complete (Alembic, tests)."""

from civiclink.analytics import models as analytics_models  # noqa: F401
from civiclink.audit import models as audit_models  # noqa: F401
from civiclink.cache import Revision  # noqa: F401
from civiclink.callcentre import models as callcentre_models  # noqa: F401
from civiclink.exchange import models as exchange_models  # noqa: F401
from civiclink.incidents import models as incident_models  # noqa: F401
from civiclink.knowledge import models as knowledge_models  # noqa: F401
from civiclink.linkage import models as linkage_models  # noqa: F401
from civiclink.open311 import models as open311_models  # noqa: F401
from civiclink.orgs import models as org_models  # noqa: F401
from civiclink.reports import models as report_models  # noqa: F401
from civiclink.sla import models as sla_models  # noqa: F401
from civiclink.supervision import models as supervision_models  # noqa: F401
from civiclink.triage import models as triage_models  # noqa: F401
from civiclink.workorders import models as workorder_models  # noqa: F401
