"""Named training recipes, one TOML file each (`emovit reproduce --recipe NAME`); read by
`emovit.config.load_recipe`, whose Recipe dataclass documents every setting and its default."""
