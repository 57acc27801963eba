"""Code that runs inside the platform: data generation, the Glue job, pipeline scripts."""
