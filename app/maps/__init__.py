"""Maps as BPMN 2.0: the as-is map and SOP flows exported, BPMN files imported onto a survey or an SOP draft."""

from app.maps.labels import register as _register_labels

_register_labels()
