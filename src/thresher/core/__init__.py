"""Logic on text: plain functions and small classes, no ``apache_beam`` import (a test checks)."""
