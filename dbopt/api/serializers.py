from rest_framework import serializers

ACTIONS = ("drop_index", "vacuum_table", "analyze_table", "reindex_index")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ActionSerializer(serializers.Serializer):
    """An action on a named table or index; names only, never SQL."""

    schema = serializers.CharField(max_length=63, default="public")
    table = serializers.CharField(max_length=63, required=False)
    index = serializers.CharField(max_length=63, required=False)
    reason = serializers.CharField(max_length=2000)

    def validate(self, data):
        action = self.context["action"]
        needs = "index" if action in ("drop_index", "reindex_index") else "table"
        if not data.get(needs):
            raise serializers.ValidationError({needs: [f"{action} needs the {needs} name"]})
        return data


class ExplainSerializer(serializers.Serializer):
    queryid = serializers.RegexField(r"^-?\d{1,20}$", help_text="a queryid from the top queries")
    analyze = serializers.BooleanField(default=False, help_text="EXPLAIN ANALYZE (read-only SELECTs only)")
