"""The domains of the method, in its order, loaded once: their tables, their phase-gate criteria and their
kinds of work items.

Importing this module registers every table on SQLModel's metadata (Alembic, tests, the CLI), every
domain's gate criteria (`app.initiatives.gates`), every domain's kinds of work for My work
(`app.core.work`) and every listener of an earlier domain's events (`app.core.events`). A domain depends on
`core`, the registries (users, departments, processes, auth) and the domains before it here, never on a
later one (tests/test_layering.py holds that). A new domain adds its modules here; its routers go in
`app.routers`.
"""

from app.auth import models as auth_models
from app.core import audit
from app.departments import models as department_models
from app.feedback import models as feedback_models
from app.feedback import work as feedback_work
from app.initiatives import models as initiative_models
from app.issues import gates as issue_gates
from app.issues import models as issue_models
from app.measures import gates as measure_gates
from app.measures import models as measure_models
from app.metrics import models as metric_models
from app.mining import models as mining_models
from app.pilots import gates as pilot_gates
from app.pilots import models as pilot_models
from app.processes import models as process_models
from app.raci import gates as raci_gates
from app.raci import models as raci_models
from app.reviews import models as review_models
from app.reviews import work as review_work
from app.risks import models as risk_models
from app.risks import seeds as risk_seeds
from app.risks import work as risk_work
from app.rollout import gates as rollout_gates
from app.rollout import models as rollout_models
from app.rollout import work as rollout_work
from app.sops import gates as sop_gates
from app.sops import models as sop_models
from app.sops import work as sop_work
from app.survey import gates as survey_gates
from app.survey import models as survey_models
from app.users import models as user_models

# The layers, lowest first: each may import those before it (tests/test_layering.py).
REGISTRIES = ("core", "users", "departments", "processes", "auth")
METHOD_ORDER = ("initiatives", "survey", "issues", "raci", "measures", "metrics", "sops", "mining", "maps", "pilots", "rollout",
                "feedback", "risks", "reviews")

TABLES = (auth_models, audit, department_models, feedback_models, initiative_models, issue_models, metric_models,
          measure_models, mining_models, pilot_models, process_models, raci_models, review_models, risk_models, rollout_models,
          sop_models, survey_models, user_models)
GATE_CRITERIA = (survey_gates, issue_gates, raci_gates, measure_gates, sop_gates, pilot_gates, rollout_gates)
WORK_ITEMS = (sop_work, rollout_work, feedback_work, risk_work, review_work)  # each domain's kinds of work for My work (app.core.work), in the method's order
LISTENERS = (risk_seeds,)  # each domain's listeners of an earlier domain's events (app.core.events)
