"""A realistic demo region: one city, its hospitals, residences, a hospice and home patients.

The names are invented; the coordinates lie in Toronto so distances and travel
times behave like a real city's.
"""
from __future__ import annotations

CITY = "Toronto"
TIMEZONE = "America/Toronto"

HOSPITALS = [
    ("Lakeshore General Hospital", "600 University Ave", 43.6577, -79.3905, "lakeshore-credentialing"),
    ("St. Brigid's Hospital", "30 Bond St", 43.6536, -79.3770, "st-brigids-credentialing"),
    ("North York Regional Health Centre", "4001 Leslie St", 43.7696, -79.3627, "north-york-credentialing"),
]
ASSISTED_LIVING = [
    ("Maple Grove Residence", "1055 Bloor St W", 43.6607, -79.4338),
    ("Riverdale Commons", "825 Broadview Ave", 43.6779, -79.3587),
    ("The Beaches Retirement Home", "2075 Queen St E", 43.6690, -79.2985),
    ("Willowdale Gardens", "5200 Yonge St", 43.7681, -79.4128),
]
HOSPICE = ("Kensington Hospice House", "38 Major St", 43.6597, -79.4040)

# Home patients live inside these neighbourhood boxes (lat_min, lat_max, lon_min, lon_max),
# on land: the lake is south of the downtown core.
NEIGHBOURHOODS = [
    ("Annex", 43.665, 43.680, -79.420, -79.395),
    ("Leslieville", 43.660, 43.672, -79.345, -79.320),
    ("High Park", 43.645, 43.665, -79.480, -79.445),
    ("Davisville", 43.695, 43.710, -79.400, -79.380),
    ("East York", 43.690, 43.710, -79.345, -79.310),
    ("Willowdale", 43.760, 43.785, -79.420, -79.395),
    ("Scarborough Village", 43.735, 43.755, -79.230, -79.200),
    ("Etobicoke Centre", 43.640, 43.660, -79.540, -79.510),
    ("Don Mills", 43.725, 43.745, -79.355, -79.330),
    ("Little Italy", 43.652, 43.660, -79.425, -79.405),
]
STREETS = [
    "Palmerston Ave", "Jones Ave", "Roncesvalles Ave", "Balliol St", "Cosburn Ave", "Finch Ave",
    "Kingston Rd", "Islington Ave", "Lawrence Ave E", "Clinton St", "Dupont St", "Pape Ave",
    "Bathurst St", "Mount Pleasant Rd", "Danforth Ave", "Sheppard Ave E", "Markham Rd", "Royal York Rd",
]

# name, gender, languages, skills, speed profile, shift (start, end), weekdays, base neighbourhood
THERAPISTS = [
    ("Amara Okafor", "female", ["en"], ["palliative", "oncology", "clinical", "hospital-based"], "car", ("08:00", "16:30"), "all", "Annex"),
    ("Benoît Tremblay", "male", ["en", "fr"], ["palliative", "geriatric", "reflexology"], "car", ("09:00", "17:00"), "all", "Leslieville"),
    ("Chiara Romano", "female", ["en", "it"], ["mld", "oncology", "clinical"], "car", ("08:30", "16:30"), "all", "Little Italy"),
    ("Daniel Cho", "male", ["en", "ko"], ["clinical", "geriatric", "acupressure"], "transit", ("10:00", "18:00"), "all", "Davisville"),
    ("Esther Mensah", "female", ["en"], ["palliative", "geriatric", "hospital-based"], "car", ("07:30", "15:30"), "all", "East York"),
    ("Farah Haddad", "female", ["en", "ar", "fr"], ["oncology", "mld", "palliative", "hospital-based"], "car", ("08:00", "16:00"), "all", "Willowdale"),
    ("Gabriel Souza", "male", ["en", "pt", "es"], ["clinical", "reflexology", "geriatric"], "car", ("11:00", "19:00"), "all", "High Park"),
    ("Hannah Lindqvist", "female", ["en"], ["palliative", "mld", "pediatric"], "bicycle", ("08:00", "14:00"), "all", "Annex"),
    ("Isabel Reyes", "female", ["en", "es", "tl"], ["geriatric", "palliative", "acupressure"], "car", ("09:00", "17:30"), "all", "Scarborough Village"),
    ("Jun Wei", "male", ["en", "zh"], ["clinical", "oncology", "hospital-based"], "car", ("08:00", "16:00"), "all", "Don Mills"),
    ("Kateryna Bondarenko", "female", ["en", "uk"], ["palliative", "geriatric", "mld"], "car", ("12:00", "20:00"), "all", "Etobicoke Centre"),
    ("Liam O'Connor", "male", ["en"], ["clinical", "geriatric", "reflexology", "hospital-based"], "car", ("08:00", "16:00"), "weekdays", "Davisville"),
]

FIRST_NAMES = [
    "Margaret", "Robert", "Dorothy", "Walter", "Helen", "Giuseppe", "Mei", "Arjun", "Fatima", "Eleanor",
    "Harold", "Yuki", "Olusegun", "Rosa", "Theodore", "Agnes", "Ivan", "Lucia", "Samuel", "Noor",
    "Bernard", "Gladys", "Tomasz", "Priya", "Ernest", "Wilhelmina", "Chen", "Aurora", "Desmond", "Ingrid",
]
LAST_NAMES = [
    "Campbell", "Nguyen", "Rossi", "Patel", "MacLeod", "Kowalski", "Osei", "Fernandes", "Li", "Murphy",
    "Gagnon", "Haddad", "Schmidt", "Singh", "Okonkwo", "Santos", "Novak", "Brown", "Yamamoto", "Cohen",
]
PRECAUTIONS = [
    ("device", "left forearm", "PICC line: no pressure or massage on the left arm."),
    ("device", "abdomen", "PEG feeding tube: avoid the abdomen, keep tubing free."),
    ("device", "chest", "Implanted port right upper chest: light touch only around it."),
    ("wound", "sacrum", "Stage 2 pressure injury on the sacrum: do not position supine for long."),
    ("wound", "right lower leg", "Dressed surgical wound: avoid the right lower leg."),
    ("positioning", "", "Side-lying only; use pillows between the knees."),
    ("positioning", "", "Head of bed at 30 degrees or more (aspiration risk)."),
    ("pressure", "", "Light pressure only (platelets low, bruises easily)."),
    ("pressure", "legs", "Lymphoedema risk: no deep work on the legs."),
    ("other", "", "Oxygen at 2 L/min: keep the nasal cannula clear."),
]
DIAGNOSES = [
    "Metastatic lung cancer", "End-stage heart failure", "ALS", "Advanced dementia", "Pancreatic cancer",
    "COPD, oxygen dependent", "Post-mastectomy lymphoedema", "Parkinson's disease", "Stroke rehabilitation",
    "Multiple myeloma",
]
