"""CloudShelf on AWS as code: one CDK app, a stack per concern, sized by growth phase (docs/deploy.md)."""
