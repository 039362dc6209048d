from django.db import migrations

STANDARD_SKILLS = [
    ("palliative", "Palliative care"),
    ("oncology", "Oncology massage"),
    ("mld", "Manual lymphatic drainage"),
    ("reflexology", "Reflexology"),
    ("acupressure", "Acupressure"),
    ("clinical", "Clinical / medical massage"),
    ("geriatric", "Geriatric massage"),
    ("pediatric", "Paediatric massage"),
    ("prenatal", "Prenatal massage"),
    ("hospital-based", "Hospital-based massage"),
]


def add_skills(apps, schema_editor):
    Skill = apps.get_model("dispatch", "Skill")
    for code, name in STANDARD_SKILLS:
        Skill.objects.get_or_create(code=code, defaults={"name": name})


def remove_skills(apps, schema_editor):
    apps.get_model("dispatch", "Skill").objects.filter(code__in=[c for c, _ in STANDARD_SKILLS]).delete()


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0001_initial")]
    operations = [migrations.RunPython(add_skills, remove_skills)]
