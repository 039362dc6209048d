from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

PAGE_SIZE_TOO_LARGE = "page_size may be at most {limit}."


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        # DRF would quietly cap a huge page_size; saying so is clearer than a short page.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None:
            if not raw.isdigit() or int(raw) < 1:
                raise ValidationError({self.page_size_query_param: ["A positive whole number is required."]})
            if int(raw) > self.max_page_size:
                raise ValidationError({self.page_size_query_param: [PAGE_SIZE_TOO_LARGE.format(limit=self.max_page_size)]})
        return super().get_page_size(request)
