"""Networks: the paper's teacher and student (`emovit.models.emovit`) on a lucidrains-style ViT,
the peer models of its comparisons (`ast`, `septr`), and a registry of all of them by name."""
from .ast import AST, ast_config, load_deit_weights
from .config import ModelConfig
from .emovit import ConvStem, CoordinateEncoding, EmotionViT, Student, Teacher, student_config, teacher_config
from .registry import MODELS, build, build_from_config, model_config
from .septr import SepTr, septr_config
from .vit import ViT

__all__ = ["AST", "ConvStem", "CoordinateEncoding", "EmotionViT", "MODELS", "ModelConfig", "SepTr", "Student",
           "Teacher", "ViT", "ast_config", "build", "build_from_config", "load_deit_weights", "model_config",
           "septr_config", "student_config", "teacher_config"]
