"""Networks: the paper's teacher and student (`emovit.models.emovit`) on a lucidrains-style ViT."""
from .emovit import ConvStem, CoordinateEncoding, EmotionViT, ModelConfig, Student, Teacher, student_config, teacher_config
from .vit import ViT

__all__ = ["ConvStem", "CoordinateEncoding", "EmotionViT", "ModelConfig", "Student", "Teacher", "ViT",
           "student_config", "teacher_config"]
