"""Networks: the paper's teacher and student (`emovit.models.emovit`) on a lucidrains-style ViT,
the peer models of its comparisons (`ast`, `septr`, `timnet`), and a registry of all of them by name."""
from .ast import AST, ast_config, load_deit_weights
from .config import ModelConfig
from .emovit import ConvStem, CoordinateEncoding, EmotionViT, Student, Teacher, student_config, teacher_config
from .network import Network
from .registry import FRONT_ENDS, MODELS, build, build_from_config, model_config
from .septr import SepTr, septr_config
from .timnet import TIMNet, timnet_config
from .vit import ViT

__all__ = ["AST", "ConvStem", "CoordinateEncoding", "EmotionViT", "FRONT_ENDS", "MODELS", "ModelConfig", "Network",
           "SepTr", "Student", "TIMNet", "Teacher", "ViT", "ast_config", "build", "build_from_config",
           "load_deit_weights", "model_config", "septr_config", "student_config", "teacher_config", "timnet_config"]
