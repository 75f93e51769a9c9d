"""Every table, imported once so SQLModel's metadata knows them (Alembic, tests).

Importing a domain's models module registers all of its tables.
"""

from app.auth import models as auth_models
from app.core import audit
from app.departments import models as department_models
from app.initiatives import models as initiative_models
from app.issues import models as issue_models
from app.measures import models as measure_models
from app.metrics import models as metric_models
from app.mining import models as mining_models
from app.processes import models as process_models
from app.raci import models as raci_models
from app.survey import models as survey_models
from app.users import models as user_models

DOMAINS = (auth_models, audit, department_models, initiative_models, issue_models, metric_models,
           measure_models, mining_models, process_models, raci_models, survey_models, user_models)
